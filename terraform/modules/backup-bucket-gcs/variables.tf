variable "project_id" {
  description = "GCP project that owns the bucket(s) and KMS keys."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid GCP project id."
  }
}

variable "bucket_name" {
  description = "Name of the bucket holding the vdr repository."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 characters of lowercase letters, digits, dots, underscores and hyphens."
  }
}

variable "repository_prefix" {
  description = "Object prefix of the repository inside the bucket (gs://bucket/prefix), without leading or trailing slash."
  type        = string
  default     = "vdr"

  validation {
    condition     = !startswith(var.repository_prefix, "/") && !endswith(var.repository_prefix, "/")
    error_message = "repository_prefix must not start or end with '/'."
  }
}

variable "location" {
  description = "Bucket location. A dual-region (predefined such as NAM4/EUR4, or a multi-region with custom_placement_regions) replicates inside Cloud Storage; a single region with replica_bucket_name replicates to a second bucket."
  type        = string
  default     = "EUR4"
}

variable "custom_placement_regions" {
  description = "Exactly two regions for a configurable dual-region (location must then be the multi-region containing them, e.g. EU with [\"europe-west1\", \"europe-west4\"]). Empty for none."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.custom_placement_regions) == 0 || length(var.custom_placement_regions) == 2
    error_message = "custom_placement_regions must be empty or hold exactly two regions."
  }
}

variable "turbo_replication" {
  description = "Enable turbo replication (15-minute RPO) for dual-region buckets."
  type        = bool
  default     = false
}

variable "protection" {
  description = "How old data is protected. Cloud Storage does not allow a retention policy on a versioned bucket, so choose: \"retention\" (bucket retention policy of retention_days: no object can be deleted or replaced before that age; soft delete on top) or \"versioning\" (object versioning; noncurrent versions go cold, then expire; soft delete on top)."
  type        = string
  default     = "retention"

  validation {
    condition     = contains(["retention", "versioning"], var.protection)
    error_message = "protection must be \"retention\" or \"versioning\"."
  }
}

variable "retention_days" {
  description = "Retention policy (protection = \"retention\"): no object can be deleted or overwritten before this age (days)."
  type        = number
  default     = 30

  validation {
    condition     = var.retention_days >= 1 && var.retention_days <= 36500
    error_message = "retention_days must be between 1 and 36500."
  }
}

variable "retention_locked" {
  description = "Lock the retention policy (irreversible: it can then only be lengthened and the bucket cannot be deleted while objects are retained)."
  type        = bool
  default     = false
}

variable "kms_key_id" {
  description = "Existing Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K) for CMEK; null creates a key ring and key in the bucket location."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_id == null || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.kms_key_id))
    error_message = "kms_key_id must be a full Cloud KMS crypto key id or null."
  }
}

variable "kms_location" {
  description = "Location of a created key ring; must match the bucket location in lowercase (e.g. eur4, europe-west1). Defaults to lower(location)."
  type        = string
  default     = null
}

variable "kms_rotation_period" {
  description = "Rotation period of a created KMS key, in seconds with an `s` suffix (at most 90 days = 7776000s)."
  type        = string
  default     = "7776000s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.kms_rotation_period)) && tonumber(trimsuffix(var.kms_rotation_period, "s")) >= 86400 && tonumber(trimsuffix(var.kms_rotation_period, "s")) <= 7776000
    error_message = "kms_rotation_period must be between 86400s (1 day) and 7776000s (90 days)."
  }
}

variable "noncurrent_coldline_days" {
  description = "Days after an object version becomes noncurrent before it moves to COLDLINE (protection = \"versioning\")."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_coldline_days >= 1
    error_message = "noncurrent_coldline_days must be at least 1."
  }
}

variable "noncurrent_delete_days" {
  description = "Days after an object version becomes noncurrent before it is deleted (protection = \"versioning\"; COLDLINE has a 90-day minimum storage duration)."
  type        = number
  default     = 120

  validation {
    condition     = var.noncurrent_delete_days > var.noncurrent_coldline_days
    error_message = "noncurrent_delete_days must be greater than noncurrent_coldline_days."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which incomplete multipart (XML API) uploads are aborted."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1
    error_message = "abort_incomplete_multipart_days must be at least 1."
  }
}

variable "soft_delete_days" {
  description = "Soft delete retention (7-90 days; 0 disables). Deleted objects stay restorable this long."
  type        = number
  default     = 14

  validation {
    condition     = var.soft_delete_days == 0 || (var.soft_delete_days >= 7 && var.soft_delete_days <= 90)
    error_message = "soft_delete_days must be 0 or between 7 and 90."
  }
}

variable "replica_bucket_name" {
  description = "Name of a second bucket in replica_location, filled by a Storage Transfer Service job; null disables (use a dual-region location instead)."
  type        = string
  default     = null
}

variable "replica_location" {
  description = "Location of the replica bucket (required with replica_bucket_name)."
  type        = string
  default     = null

  validation {
    condition     = (var.replica_bucket_name == null) == (var.replica_location == null)
    error_message = "replica_bucket_name and replica_location must be set together."
  }
}

variable "replica_kms_key_id" {
  description = "Existing KMS key in replica_location for the replica bucket; null creates one."
  type        = string
  default     = null
}

variable "replication_interval_seconds" {
  description = "Interval of the transfer job copying new objects to the replica bucket."
  type        = number
  default     = 3600

  validation {
    condition     = var.replication_interval_seconds >= 3600
    error_message = "replication_interval_seconds must be at least 3600 (Storage Transfer Service minimum)."
  }
}

variable "access_log_bucket" {
  description = "Existing bucket receiving usage and storage logs; null disables."
  type        = string
  default     = null
}

variable "writer_members" {
  description = "IAM members (e.g. serviceAccount:backup@P.iam.gserviceaccount.com) given append-only access: read, list, create; no delete."
  type        = list(string)
  default     = []
}

variable "maintenance_members" {
  description = "IAM members given object admin for forget/prune (deletes allowed; the retention policy still holds young objects)."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Allow destroy to delete all objects. Keep false for backups."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels applied to buckets and keys."
  type        = map(string)
  default     = {}
}
