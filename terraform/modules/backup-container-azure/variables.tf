variable "resource_group_name" {
  description = "Existing resource group of the storage account."
  type        = string

  validation {
    condition     = length(var.resource_group_name) >= 1 && length(var.resource_group_name) <= 90
    error_message = "resource_group_name must be 1-90 characters."
  }
}

variable "location" {
  description = "Azure region of the storage account (e.g. westeurope)."
  type        = string
}

variable "storage_account_name" {
  description = "Storage account name (3-24 lowercase letters and digits, globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.storage_account_name))
    error_message = "storage_account_name must be 3-24 lowercase letters and digits."
  }
}

variable "container_name" {
  description = "Blob container holding the vdr repository (az://container/prefix)."
  type        = string
  default     = "vdr"

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$", var.container_name))
    error_message = "container_name must be 3-63 lowercase letters, digits and single hyphens."
  }
}

variable "replication_type" {
  description = "Account redundancy. Geo-redundant types (GRS, RAGRS, GZRS, RAGZRS) keep a copy in the paired region for failover."
  type        = string
  default     = "RAGZRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"], var.replication_type)
    error_message = "replication_type must be LRS, ZRS, GRS, RAGRS, GZRS or RAGZRS."
  }
}

variable "protection" {
  description = "How old data is protected: \"versioning\" (blob versioning; overwritten/deleted blobs keep prior versions) or \"immutability\" (container time-based WORM retention; nothing can be deleted or overwritten before it expires)."
  type        = string
  default     = "versioning"

  validation {
    condition     = contains(["versioning", "immutability"], var.protection)
    error_message = "protection must be \"versioning\" or \"immutability\"."
  }
}

variable "immutability_days" {
  description = "Retention of the container WORM policy in days (protection = \"immutability\")."
  type        = number
  default     = 30

  validation {
    condition     = var.immutability_days >= 1 && var.immutability_days <= 146000
    error_message = "immutability_days must be between 1 and 146000."
  }
}

variable "immutability_locked" {
  description = "Lock the WORM policy (irreversible; it can then only be lengthened)."
  type        = bool
  default     = false
}

variable "blob_soft_delete_days" {
  description = "Days deleted blobs (and versions) stay restorable."
  type        = number
  default     = 14

  validation {
    condition     = var.blob_soft_delete_days >= 1 && var.blob_soft_delete_days <= 365
    error_message = "blob_soft_delete_days must be between 1 and 365."
  }
}

variable "container_soft_delete_days" {
  description = "Days a deleted container stays restorable."
  type        = number
  default     = 14

  validation {
    condition     = var.container_soft_delete_days >= 1 && var.container_soft_delete_days <= 365
    error_message = "container_soft_delete_days must be between 1 and 365."
  }
}

variable "noncurrent_cool_days" {
  description = "Days before previous blob versions move to the cool tier (protection = \"versioning\")."
  type        = number
  default     = 30
}

variable "noncurrent_delete_days" {
  description = "Days before previous blob versions are deleted (protection = \"versioning\")."
  type        = number
  default     = 120

  validation {
    condition     = var.noncurrent_delete_days > var.noncurrent_cool_days
    error_message = "noncurrent_delete_days must be greater than noncurrent_cool_days."
  }
}

variable "allowed_subnet_ids" {
  description = "Subnets allowed through the storage firewall (service endpoints)."
  type        = list(string)
  default     = []
}

variable "allowed_ip_ranges" {
  description = "Public IPs/CIDRs allowed through the storage firewall (only used when public_network_access_enabled)."
  type        = list(string)
  default     = []
}

variable "public_network_access_enabled" {
  description = "Expose the account's public endpoint (still firewalled to allowed_ip_ranges/subnets). Keep false and use private_endpoint_subnet_id."
  type        = bool
  default     = false
}

variable "private_endpoint_subnet_id" {
  description = "Subnet for a private endpoint of the blob service; null creates none."
  type        = string
  default     = null
}

variable "cmk_key_vault_key_id" {
  description = "Versionless Key Vault key id for customer-managed keys; null keeps Microsoft-managed keys (infrastructure double encryption stays on)."
  type        = string
  default     = null
}

variable "cmk_user_assigned_identity_id" {
  description = "User-assigned identity with wrap/unwrap rights on cmk_key_vault_key_id (required with it)."
  type        = string
  default     = null

  validation {
    condition     = (var.cmk_key_vault_key_id == null) == (var.cmk_user_assigned_identity_id == null)
    error_message = "cmk_key_vault_key_id and cmk_user_assigned_identity_id must be set together."
  }
}

variable "writer_principal_ids" {
  description = "Entra ID object ids granted the append-only writer role (read, list, create; no delete) on the container."
  type        = list(string)
  default     = []
}

variable "maintenance_principal_ids" {
  description = "Entra ID object ids granted Storage Blob Data Contributor (deletes allowed for prune) on the container."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "repository_prefix" {
  description = "Blob prefix of the repository inside the container (az://container/prefix), without leading or trailing slash."
  type        = string
  default     = "vdr"

  validation {
    condition     = !startswith(var.repository_prefix, "/") && !endswith(var.repository_prefix, "/")
    error_message = "repository_prefix must not start or end with '/'."
  }
}
