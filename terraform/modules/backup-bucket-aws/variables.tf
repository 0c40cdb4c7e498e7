variable "bucket_name" {
  description = "Name of the primary S3 bucket holding the vdr repository (globally unique, 3-63 chars, lowercase)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit."
  }
}

variable "repository_prefix" {
  description = "Key prefix of the vdr repository inside the bucket (the `prefix` in s3://bucket/prefix), without leading slash; empty for the bucket root. IAM policies are scoped to it."
  type        = string
  default     = "vdr"

  validation {
    condition     = var.repository_prefix == "" || can(regex("^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*[^/]$", var.repository_prefix))
    error_message = "repository_prefix must not start or end with '/'."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to empty the bucket. Keep false for backups; object lock still protects locked versions."
  type        = bool
  default     = false
}

variable "object_lock_mode" {
  description = "Default object lock retention mode: GOVERNANCE (principals with s3:BypassGovernanceRetention can override) or COMPLIANCE (nobody, including root, can delete before expiry)."
  type        = string
  default     = "GOVERNANCE"

  validation {
    condition     = contains(["GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)
    error_message = "object_lock_mode must be GOVERNANCE or COMPLIANCE."
  }
}

variable "object_lock_days" {
  description = "Default retention of every object version in days. Choose at least your longest restore-point objective window plus the prune interval."
  type        = number
  default     = 30

  validation {
    condition     = var.object_lock_days >= 1 && var.object_lock_days <= 36500 && floor(var.object_lock_days) == var.object_lock_days
    error_message = "object_lock_days must be a whole number between 1 and 36500."
  }
}

variable "kms_key_arn" {
  description = "ARN of an existing customer-managed KMS key for SSE-KMS. When null a key with rotation enabled is created."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) or null."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a created KMS key is deleted after destroy (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "noncurrent_transition_days" {
  description = "Days after an object version becomes noncurrent (overwritten or deleted by prune) before it moves to cold storage."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_transition_days >= 1
    error_message = "noncurrent_transition_days must be at least 1."
  }
}

variable "noncurrent_storage_class" {
  description = "Cold storage class for noncurrent versions."
  type        = string
  default     = "GLACIER"

  validation {
    condition     = contains(["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], var.noncurrent_storage_class)
    error_message = "noncurrent_storage_class must be one of STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER, DEEP_ARCHIVE."
  }
}

variable "noncurrent_expiration_days" {
  description = "Days after an object version becomes noncurrent before it is permanently expired. Must be later than the transition and not shorter than the object lock retention."
  type        = number
  default     = 120

  validation {
    condition     = var.noncurrent_expiration_days > var.noncurrent_transition_days && var.noncurrent_expiration_days >= var.object_lock_days
    error_message = "noncurrent_expiration_days must be greater than noncurrent_transition_days and at least object_lock_days."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which incomplete multipart uploads (interrupted backups) are aborted and their parts removed."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1 && var.abort_incomplete_multipart_days <= 365
    error_message = "abort_incomplete_multipart_days must be between 1 and 365."
  }
}

variable "replication_enabled" {
  description = "Create a replica bucket in the region of the `aws.replica` provider and replicate every object version (including delete markers) to it."
  type        = bool
  default     = false
}

variable "replica_bucket_name" {
  description = "Name of the replica bucket (required when replication_enabled)."
  type        = string
  default     = null

  validation {
    condition     = var.replica_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.replica_bucket_name))
    error_message = "replica_bucket_name must be a valid S3 bucket name."
  }

  validation {
    condition     = !var.replication_enabled || var.replica_bucket_name != null
    error_message = "replica_bucket_name is required when replication_enabled is true."
  }
}

variable "replica_kms_key_arn" {
  description = "ARN of an existing KMS key in the replica region. When null and replication is enabled a key with rotation is created there."
  type        = string
  default     = null

  validation {
    condition     = var.replica_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.replica_kms_key_arn))
    error_message = "replica_kms_key_arn must be a KMS key ARN or null."
  }
}

variable "replica_storage_class" {
  description = "Storage class of replicated objects in the replica bucket."
  type        = string
  default     = "STANDARD_IA"

  validation {
    condition     = contains(["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR"], var.replica_storage_class)
    error_message = "replica_storage_class must be STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING or GLACIER_IR (restores must read it without a thaw)."
  }
}

variable "access_log_bucket" {
  description = "Existing bucket receiving S3 server access logs for the primary bucket; null disables access logging."
  type        = string
  default     = null
}

variable "replica_access_log_bucket" {
  description = "Existing bucket in the replica region receiving access logs for the replica bucket; null disables them."
  type        = string
  default     = null
}

variable "access_log_prefix" {
  description = "Key prefix for access log objects."
  type        = string
  default     = "s3-access/"
}

variable "writer_principal_arns" {
  description = "IAM principals (roles of backup jobs) allowed to assume the append-only writer role. Empty creates the policy only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.writer_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:", a))])
    error_message = "writer_principal_arns must be IAM ARNs."
  }
}

variable "maintenance_principal_arns" {
  description = "IAM principals allowed to assume the maintenance (forget/prune) role. Empty creates the policy only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.maintenance_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:", a))])
    error_message = "maintenance_principal_arns must be IAM ARNs."
  }
}

variable "writer_may_delete_locks" {
  description = "Allow the writer to delete objects under `<prefix>/locks/` only (removing its own repository locks). With versioning this only adds delete markers."
  type        = bool
  default     = false
}

variable "name_prefix" {
  description = "Prefix of IAM policy, role and KMS alias names."
  type        = string
  default     = "vdr"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,32}$", var.name_prefix))
    error_message = "name_prefix must be 1-32 characters valid in IAM names."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
