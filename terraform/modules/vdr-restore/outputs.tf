output "snapshot_id" {
  description = "Id of the snapshot that was restored."
  value       = terraform_data.restore.output.snapshot_id
}

output "snapshot" {
  description = "Everything `vdr terraform latest-snapshot` reported (all strings): snapshot_id, time, age_seconds, records, verified, recall."
  value       = local.snapshot
}

output "report_dir" {
  description = "Directory with the restore playbook's reports (JSON, JUnit XML, Markdown with measured RTO/RPO)."
  value       = terraform_data.restore.output.report_dir
}

output "report_json" {
  description = "Path of the machine-readable restore report."
  value       = "${terraform_data.restore.output.report_dir}/report.json"
}
