output "bucket_name" {
  description = "Name of the primary bucket."
  value       = google_storage_bucket.this["primary"].name
}

output "repo_url" {
  description = "vdr REPO URL of the primary repository."
  value       = "gs://${google_storage_bucket.this["primary"].name}/${var.repository_prefix}"
}

output "kms_key_id" {
  description = "CMEK key of the primary bucket."
  value       = local.kms_key_ids["primary"]
}

output "replica_bucket_name" {
  description = "Name of the replica bucket (null without one)."
  value       = var.replica_bucket_name == null ? null : google_storage_bucket.this["replica"].name
}

output "replica_repo_url" {
  description = "vdr REPO URL of the replica repository (null without a replica bucket)."
  value       = var.replica_bucket_name == null ? null : "gs://${google_storage_bucket.this["replica"].name}/${var.repository_prefix}"
}

output "transfer_job_name" {
  description = "Storage Transfer Service job replicating to the replica bucket (null without one)."
  value       = var.replica_bucket_name == null ? null : google_storage_transfer_job.replicate[0].name
}
