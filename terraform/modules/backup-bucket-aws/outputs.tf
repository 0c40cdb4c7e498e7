output "bucket_id" {
  description = "Name of the primary bucket."
  value       = module.primary.id
}

output "bucket_arn" {
  description = "ARN of the primary bucket."
  value       = module.primary.arn
}

output "repo_url" {
  description = "vdr REPO URL of the primary repository (pass to --repo or VDR_REPO)."
  value       = "s3://${module.primary.id}/${var.repository_prefix}?region=${module.primary.region}"
}

output "kms_key_arn" {
  description = "KMS key encrypting the primary bucket."
  value       = local.kms_key_arn
}

output "replica_bucket_id" {
  description = "Name of the replica bucket (null without replication)."
  value       = var.replication_enabled ? module.replica[0].id : null
}

output "replica_bucket_arn" {
  description = "ARN of the replica bucket (null without replication)."
  value       = var.replication_enabled ? module.replica[0].arn : null
}

output "replica_repo_url" {
  description = "vdr REPO URL of the replica repository, for restores in the standby region (null without replication)."
  value       = var.replication_enabled ? "s3://${module.replica[0].id}/${var.repository_prefix}?region=${module.replica[0].region}" : null
}

output "replica_kms_key_arn" {
  description = "KMS key encrypting the replica bucket (null without replication)."
  value       = local.replica_kms_key_arn
}

output "writer_policy_arn" {
  description = "IAM policy of the append-only writer (backup/check/verify/restore; no deletes)."
  value       = aws_iam_policy.writer.arn
}

output "writer_policy_json" {
  description = "JSON of the append-only writer policy, for review or for attaching elsewhere."
  value       = data.aws_iam_policy_document.writer.json
}

output "maintenance_policy_arn" {
  description = "IAM policy of the maintenance role (forget/prune; deletes allowed)."
  value       = aws_iam_policy.maintenance.arn
}

output "writer_role_arn" {
  description = "Writer role ARN (null when writer_principal_arns is empty)."
  value       = length(aws_iam_role.writer) > 0 ? aws_iam_role.writer[0].arn : null
}

output "maintenance_role_arn" {
  description = "Maintenance role ARN (null when maintenance_principal_arns is empty)."
  value       = length(aws_iam_role.maintenance) > 0 ? aws_iam_role.maintenance[0].arn : null
}
