output "report_dir" {
  description = "Absolute or working_dir-relative directory holding the drill's reports (JSON, JUnit XML, Markdown)."
  value       = terraform_data.drill.output.report_dir
}

output "report_json" {
  description = "Path of the machine-readable report (report.json in report_dir)."
  value       = "${terraform_data.drill.output.report_dir}/report.json"
}

output "run_id" {
  description = "Id of the terraform_data resource of the last drill run (changes every run)."
  value       = terraform_data.drill.id
}
