variable "vdr_binary" {
  description = "Path or name (looked up in PATH) of the vdr executable."
  type        = string
  default     = "vdr"

  validation {
    condition     = length(var.vdr_binary) > 0 && !can(regex("[\"'`$\\n]", var.vdr_binary))
    error_message = "vdr_binary must be a non-empty path without quotes, backticks, '$' or newlines."
  }
}

variable "playbook" {
  description = "Drill playbook template, relative to working_dir (e.g. templates/drill.yaml.tera)."
  type        = string
  default     = "templates/drill.yaml.tera"

  validation {
    condition     = length(var.playbook) > 0 && !can(regex("[\"'`$\\n]", var.playbook))
    error_message = "playbook must be a non-empty path without quotes, backticks, '$' or newlines."
  }
}

variable "playbook_vars" {
  description = "Variables passed as --var KEY=VALUE. No secrets: they end up in state and in the process list (use VDR_IDENTITY / VDR_PASSPHRASE_FILE in the environment)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.playbook_vars : can(regex("^[A-Za-z_][A-Za-z0-9_.-]*$", k)) && !can(regex("['\\n]", v))])
    error_message = "playbook_vars keys must be identifiers and values must not contain single quotes or newlines."
  }
}

variable "report_dir" {
  description = "Directory the playbook writes its reports to (--report-dir); relative paths are relative to working_dir."
  type        = string
  default     = "drill-report"

  validation {
    condition     = length(var.report_dir) > 0 && !can(regex("[\"'`$\\n]", var.report_dir))
    error_message = "report_dir must be a non-empty path without quotes, backticks, '$' or newlines."
  }
}

variable "working_dir" {
  description = "Directory the drill runs in (playbook and relative paths resolve from it); null uses the root module directory."
  type        = string
  default     = null
}

variable "run_id" {
  description = "Change this value (e.g. a date or CI run number) to run the drill again on the next apply."
  type        = string
  default     = "1"
}

variable "environment" {
  description = "Extra non-secret environment variables for vdr (e.g. VDR_CONFIG, VDR_PLUGIN_PATH). Secret material is referenced only by file paths exported before terraform runs."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.environment) : can(regex("^[A-Z_][A-Z0-9_]*$", k)) && !contains(["VDR_PASSPHRASE", "AWS_SECRET_ACCESS_KEY"], k)])
    error_message = "environment keys must be upper-case identifiers and must not carry secrets."
  }
}
