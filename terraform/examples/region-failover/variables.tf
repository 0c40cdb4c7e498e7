variable "standby_region" {
  description = "AWS region taking over (where the replica bucket of the lost primary lives)."
  type        = string
  default     = "eu-central-1"
}

variable "tertiary_region" {
  description = "AWS region receiving the replica of the new repository created in the standby region."
  type        = string
  default     = "eu-west-1"
}

variable "surviving_repo" {
  description = "vdr REPO URL of the replica that survived, i.e. output replica_repo_url of the primary stack (s3://REPLICA/vdr?region=STANDBY)."
  type        = string

  validation {
    condition     = startswith(var.surviving_repo, "s3://")
    error_message = "surviving_repo must be an s3:// vdr REPO URL."
  }
}

variable "new_bucket_name" {
  description = "Bucket for the new primary repository in the standby region (backups continue here after failover)."
  type        = string
}

variable "new_replica_bucket_name" {
  description = "Bucket in the tertiary region replicating the new repository."
  type        = string
}

variable "engine" {
  description = "Vector database engine to bring back (qdrant, milvus, chroma)."
  type        = string
  default     = "qdrant"

  validation {
    condition     = contains(["qdrant", "milvus", "chroma"], var.engine)
    error_message = "engine must be qdrant, milvus or chroma."
  }
}

variable "collection" {
  description = "Collection to restore."
  type        = string
}

variable "storage_size_gi" {
  description = "Volume size of the new database node in GiB."
  type        = number
  default     = 100
}

variable "kubeconfig_path" {
  description = "Kubeconfig of the standby region's Kubernetes cluster."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "Kubeconfig context of the standby cluster."
  type        = string
}

variable "vdr_binary" {
  description = "vdr executable on the machine running terraform."
  type        = string
  default     = "vdr"
}

variable "max_age_seconds" {
  description = "Accepted RPO: refuse to restore when the newest replicated snapshot is older."
  type        = number
  default     = 86400
}

variable "min_recall" {
  description = "Minimum verification recall after the restore; below it the apply fails."
  type        = number
  default     = 0.95
}

variable "db_url_override" {
  description = "DB URL vdr uses to reach the node from where terraform runs (e.g. qdrant+http://127.0.0.1:6333 through kubectl port-forward); null uses the in-cluster service URL."
  type        = string
  default     = null
}

variable "writer_principal_arns" {
  description = "Principals of the backup jobs allowed to assume the new append-only writer role."
  type        = list(string)
  default     = []
}

variable "maintenance_principal_arns" {
  description = "Principals allowed to assume the new maintenance (prune) role."
  type        = list(string)
  default     = []
}
