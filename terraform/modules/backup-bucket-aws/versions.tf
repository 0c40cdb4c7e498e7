terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = ">= 5.40.0, < 7.0.0"
      configuration_aliases = [aws.replica]
    }
  }
}
