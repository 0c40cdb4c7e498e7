output "id" {
  description = "Bucket name."
  value       = aws_s3_bucket.this.id
}

output "arn" {
  description = "Bucket ARN."
  value       = aws_s3_bucket.this.arn
}

output "region" {
  description = "Bucket region."
  value       = aws_s3_bucket.this.region
}

output "versioning_id" {
  description = "ID of the versioning configuration (replication depends on it)."
  value       = aws_s3_bucket_versioning.this.id
}
