variable "vdr_binary" {
  description = "Path or name (looked up in PATH) of the vdr executable on the machine running terraform."
  type        = string
  default     = "vdr"

  validation {
    condition     = length(var.vdr_binary) > 0 && !can(regex("[\"'`$\\n]", var.vdr_binary))
    error_message = "vdr_binary must be a non-empty path without quotes, backticks, '$' or newlines."
  }
}

variable "repo" {
  description = "vdr REPO to restore from (e.g. the replica bucket in the standby region: s3://bucket/vdr?region=eu-central-1). Credentials come from the environment."
  type        = string

  validation {
    condition     = can(regex("^(fs|s3|gs|az)://", var.repo)) || can(regex("^[A-Za-z][A-Za-z0-9_-]*$", var.repo))
    error_message = "repo must be an fs://, s3://, gs:// or az:// URL or a name defined in the vdr config file."
  }

  validation {
    condition     = !can(regex("['\\n]", var.repo)) && !can(regex("(?i)(secret|password|passphrase|token)=", var.repo))
    error_message = "repo must not contain quotes, newlines or credentials; pass secrets through the environment."
  }
}

variable "collection" {
  description = "Collection whose newest snapshot is restored."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,255}$", var.collection))
    error_message = "collection must be 1-255 characters of letters, digits, '_', '.' and '-'."
  }
}

variable "tag" {
  description = "Only consider snapshots carrying this tag; null for any."
  type        = string
  default     = null

  validation {
    condition     = var.tag == null || can(regex("^[A-Za-z0-9_.:=-]{1,128}$", var.tag))
    error_message = "tag must be 1-128 characters of letters, digits and _.:=-."
  }
}

variable "max_age_seconds" {
  description = "Fail at plan time when the newest snapshot is older than this (the RPO you accept); 0 disables the check."
  type        = number
  default     = 172800

  validation {
    condition     = var.max_age_seconds >= 0 && floor(var.max_age_seconds) == var.max_age_seconds
    error_message = "max_age_seconds must be a non-negative whole number."
  }
}

variable "require_verified" {
  description = "Refuse snapshots whose verification has not passed (the hook's `verified` is not \"true\")."
  type        = bool
  default     = true
}

variable "db_url" {
  description = "vdr DB URL of the target database node (e.g. module.vector_db_node.db_url)."
  type        = string

  validation {
    condition     = can(regex("^(local|qdrant\\+https?|milvus\\+https?|chroma\\+https?|weaviate\\+https?|pinecone\\+https|faiss)://", var.db_url)) && !can(regex("['\\n]", var.db_url))
    error_message = "db_url must be a vdr DB URL (local://, qdrant+http://, milvus+http://, chroma+http://, weaviate+http://, pinecone+https://, faiss://) without quotes."
  }
}

variable "db_ready" {
  description = "Any value that is only known once the database node is up (e.g. module.vector_db_node.ready); the restore waits for it and reruns when it changes."
  type        = string
}

variable "playbook" {
  description = "Restore playbook template, relative to working_dir."
  type        = string
  default     = "templates/restore.yaml.tera"

  validation {
    condition     = length(var.playbook) > 0 && !can(regex("[\"'`$\\n]", var.playbook))
    error_message = "playbook must be a non-empty path without quotes, backticks, '$' or newlines."
  }
}

variable "min_recall" {
  description = "Minimum recall the restored collection must reach in verification (passed as --var min_recall); the playbook exits 3 below it and the apply fails."
  type        = number
  default     = 0.95

  validation {
    condition     = var.min_recall > 0 && var.min_recall <= 1
    error_message = "min_recall must be in (0, 1]."
  }
}

variable "extra_vars" {
  description = "Additional --var KEY=VALUE for the playbook (no secrets)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.extra_vars : can(regex("^[A-Za-z_][A-Za-z0-9_.-]*$", k)) && !can(regex("['\\n]", v))])
    error_message = "extra_vars keys must be identifiers and values must not contain single quotes or newlines."
  }
}

variable "report_dir" {
  description = "Directory for the playbook reports (--report-dir); relative to working_dir."
  type        = string
  default     = "restore-report"

  validation {
    condition     = length(var.report_dir) > 0 && !can(regex("[\"'`$\\n]", var.report_dir))
    error_message = "report_dir must be a non-empty path without quotes, backticks, '$' or newlines."
  }
}

variable "working_dir" {
  description = "Directory the playbook runs in; null uses the root module directory."
  type        = string
  default     = null
}

variable "identity_file" {
  description = "Path of the age identity file, exported as VDR_IDENTITY to the restore. It is a path, never key material; null keeps whatever VDR_IDENTITY the terraform process has."
  type        = string
  default     = null
}

variable "passphrase_file" {
  description = "Path of a file holding the repository passphrase, exported as VDR_PASSPHRASE_FILE; null keeps the terraform process environment."
  type        = string
  default     = null
}
