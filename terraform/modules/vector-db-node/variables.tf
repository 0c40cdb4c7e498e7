variable "engine" {
  description = "Vector database engine to bring back: qdrant, milvus (standalone) or chroma."
  type        = string

  validation {
    condition     = contains(["qdrant", "milvus", "chroma"], var.engine)
    error_message = "engine must be one of qdrant, milvus, chroma."
  }
}

variable "platform" {
  description = "Where the node runs: \"kubernetes\" (helm_release through the configured helm provider) or \"vm\" (only a cloud-init document is rendered; pass output.cloud_init to your VM resource)."
  type        = string
  default     = "kubernetes"

  validation {
    condition     = contains(["kubernetes", "vm"], var.platform)
    error_message = "platform must be \"kubernetes\" or \"vm\"."
  }
}

variable "name" {
  description = "Release / service / container name (DNS label)."
  type        = string
  default     = "vdr-restore-db"

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$", var.name))
    error_message = "name must be a DNS label of at most 40 characters."
  }
}

variable "namespace" {
  description = "Kubernetes namespace (created when missing)."
  type        = string
  default     = "vdr"

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS label."
  }
}

variable "storage_size_gi" {
  description = "Persistent volume size in GiB. Size it to at least 1.5x the restored collections (index build needs headroom)."
  type        = number
  default     = 50

  validation {
    condition     = var.storage_size_gi >= 1 && var.storage_size_gi <= 65536 && floor(var.storage_size_gi) == var.storage_size_gi
    error_message = "storage_size_gi must be a whole number between 1 and 65536."
  }
}

variable "storage_class" {
  description = "Kubernetes StorageClass of the volume; null uses the cluster default."
  type        = string
  default     = null
}

variable "chart_version" {
  description = "Helm chart version; null uses the tested default for the engine (see locals in main.tf)."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Database image tag; null uses the tested default for the engine."
  type        = string
  default     = null
}

variable "extra_values" {
  description = "Additional Helm values (YAML) merged after the module's values."
  type        = string
  default     = ""
}

variable "helm_timeout_seconds" {
  description = "How long helm waits for the database to become ready."
  type        = number
  default     = 900

  validation {
    condition     = var.helm_timeout_seconds >= 60
    error_message = "helm_timeout_seconds must be at least 60."
  }
}

variable "vm_host" {
  description = "Address the VM will be reachable at (used for db_url when platform = \"vm\")."
  type        = string
  default     = "127.0.0.1"
}

variable "vm_data_device" {
  description = "Block device of the VM's data disk, formatted ext4 and mounted at vm_data_dir on first boot; null keeps data on the root disk."
  type        = string
  default     = null

  validation {
    condition     = var.vm_data_device == null || can(regex("^/dev/[A-Za-z0-9/_-]+$", var.vm_data_device))
    error_message = "vm_data_device must be a /dev path or null."
  }
}

variable "vm_data_dir" {
  description = "Directory on the VM holding the database files."
  type        = string
  default     = "/var/lib/vdr-db"

  validation {
    condition     = startswith(var.vm_data_dir, "/")
    error_message = "vm_data_dir must be an absolute path."
  }
}

variable "vm_bind_address" {
  description = "Address the database ports are published on inside the VM (use a private interface address or 0.0.0.0 behind a firewall)."
  type        = string
  default     = "0.0.0.0"
}
