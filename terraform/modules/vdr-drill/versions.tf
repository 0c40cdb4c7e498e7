terraform {
  # Only built-ins (terraform_data, local-exec): init/validate/plan/apply work
  # offline, with no provider download.
  required_version = ">= 1.9.0, < 2.0.0"
}
