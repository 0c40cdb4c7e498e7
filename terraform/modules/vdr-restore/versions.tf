terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    # data "external" runs `vdr terraform latest-snapshot`; the restore itself
    # uses the built-in terraform_data with a local-exec provisioner.
    external = {
      source  = "hashicorp/external"
      version = ">= 2.3.0, < 3.0.0"
    }
  }
}
