output "storage_account_id" {
  description = "Resource id of the storage account."
  value       = azurerm_storage_account.this.id
}

output "storage_account_name" {
  description = "Name of the storage account."
  value       = azurerm_storage_account.this.name
}

output "container_name" {
  description = "Name of the repository container."
  value       = azurerm_storage_container.repository.name
}

output "blob_endpoint" {
  description = "Primary blob endpoint."
  value       = azurerm_storage_account.this.primary_blob_endpoint
}

output "secondary_blob_endpoint" {
  description = "Read-access secondary (paired region) blob endpoint; null unless RA-GRS/RA-GZRS."
  value       = azurerm_storage_account.this.secondary_blob_endpoint
}

output "repo_url" {
  description = "vdr REPO URL (az://container/prefix); the account comes from the environment (e.g. AZURE_STORAGE_ACCOUNT)."
  value       = "az://${azurerm_storage_container.repository.name}/${var.repository_prefix}"
}

output "writer_role_definition_id" {
  description = "Resource id of the append-only writer role definition."
  value       = azurerm_role_definition.writer.role_definition_resource_id
}
