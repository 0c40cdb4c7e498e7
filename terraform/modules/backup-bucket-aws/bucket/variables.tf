# Internal building block of backup-bucket-aws: one hardened, object-locked,
# KMS-encrypted bucket. Used for the primary and the replica bucket so both
# carry exactly the same controls. Inputs are validated by the parent module.

variable "name" {
  description = "Bucket name."
  type        = string
}

variable "force_destroy" {
  description = "Allow destroy to empty the bucket."
  type        = bool
}

variable "object_lock_mode" {
  description = "Default object lock mode (GOVERNANCE or COMPLIANCE)."
  type        = string

  validation {
    condition     = contains(["GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)
    error_message = "object_lock_mode must be GOVERNANCE or COMPLIANCE."
  }
}

variable "object_lock_days" {
  description = "Default retention in days."
  type        = number
}

variable "kms_key_arn" {
  description = "KMS key used for SSE-KMS."
  type        = string
}

variable "noncurrent_transition_days" {
  description = "Days before noncurrent versions move to cold storage."
  type        = number
}

variable "noncurrent_storage_class" {
  description = "Cold storage class of noncurrent versions."
  type        = string
}

variable "noncurrent_expiration_days" {
  description = "Days before noncurrent versions expire."
  type        = number
}

variable "abort_incomplete_multipart_days" {
  description = "Days before incomplete multipart uploads are aborted."
  type        = number
}

variable "access_log_bucket" {
  description = "Target bucket of server access logs; null disables logging."
  type        = string
  default     = null
}

variable "access_log_prefix" {
  description = "Key prefix of access log objects."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
}
