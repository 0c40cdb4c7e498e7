output "restored_snapshot" {
  description = "Snapshot restored from the surviving replica (id, time, age, records, verified, recall)."
  value       = module.restore.snapshot
}

output "restore_report" {
  description = "Machine-readable report of the restore playbook (RTO, RPO, recall)."
  value       = module.restore.report_json
}

output "db_url" {
  description = "vdr DB URL of the new database node."
  value       = module.database.db_url
}

output "db_ports" {
  description = "Ports of the new database node."
  value       = module.database.ports
}

output "new_repo_url" {
  description = "Repository for backups from now on (run `vdr init` against it once)."
  value       = module.new_repository.repo_url
}

output "new_replica_repo_url" {
  description = "Replica of the new repository in the tertiary region."
  value       = module.new_repository.replica_repo_url
}

output "writer_role_arn" {
  description = "Append-only writer role for the resumed backup jobs."
  value       = module.new_repository.writer_role_arn
}
