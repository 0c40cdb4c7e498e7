data "azurerm_resource_group" "this" {
  name = var.resource_group_name
}

locals {
  tags       = merge({ "managed-by" = "terraform", "app" = "vdr" }, var.tags)
  versioning = var.protection == "versioning"
}

resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV_AZURE_33:The account holds blobs only; no queues exist to log.
  #checkov:skip=CKV2_AZURE_1:Customer-managed keys are optional (cmk_key_vault_key_id); infrastructure double encryption is always on.
  #checkov:skip=CKV2_AZURE_33:A private endpoint is optional (private_endpoint_subnet_id); public network access is off by default.
  name                              = var.storage_account_name
  resource_group_name               = data.azurerm_resource_group.this.name
  location                          = var.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.replication_type
  access_tier                       = "Hot"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  infrastructure_encryption_enabled = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  local_user_enabled                = false
  default_to_oauth_authentication   = true
  public_network_access_enabled     = var.public_network_access_enabled
  cross_tenant_replication_enabled  = false
  tags                              = local.tags

  blob_properties {
    versioning_enabled       = local.versioning
    change_feed_enabled      = local.versioning
    last_access_time_enabled = false

    delete_retention_policy {
      days = var.blob_soft_delete_days
    }

    container_delete_retention_policy {
      days = var.container_soft_delete_days
    }
  }

  network_rules {
    default_action             = "Deny"
    bypass                     = ["AzureServices"]
    ip_rules                   = var.allowed_ip_ranges
    virtual_network_subnet_ids = var.allowed_subnet_ids
  }

  sas_policy {
    expiration_period = "00.01:00:00"
    expiration_action = "Log"
  }

  dynamic "identity" {
    for_each = var.cmk_user_assigned_identity_id == null ? [] : [var.cmk_user_assigned_identity_id]
    content {
      type         = "UserAssigned"
      identity_ids = [identity.value]
    }
  }

  dynamic "customer_managed_key" {
    for_each = var.cmk_key_vault_key_id == null ? [] : [var.cmk_key_vault_key_id]
    content {
      key_vault_key_id          = customer_managed_key.value
      user_assigned_identity_id = var.cmk_user_assigned_identity_id
    }
  }
}

resource "azurerm_storage_container" "repository" {
  #checkov:skip=CKV2_AZURE_21:Blob read logging is configured through diagnostic settings by the platform team; the module keeps no Log Analytics dependency.
  name                  = var.container_name
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

resource "azurerm_storage_container_immutability_policy" "repository" {
  count = local.versioning ? 0 : 1

  storage_container_resource_manager_id = azurerm_storage_container.repository.resource_manager_id
  immutability_period_in_days           = var.immutability_days
  protected_append_writes_all_enabled   = false
  locked                                = var.immutability_locked
}

resource "azurerm_storage_management_policy" "this" {
  count = local.versioning ? 1 : 0

  storage_account_id = azurerm_storage_account.this.id

  rule {
    name    = "vdr-previous-versions"
    enabled = true

    filters {
      blob_types   = ["blockBlob"]
      prefix_match = ["${var.container_name}/"]
    }

    actions {
      version {
        change_tier_to_cool_after_days_since_creation = var.noncurrent_cool_days
        delete_after_days_since_creation              = var.noncurrent_delete_days
      }
    }
  }
}

resource "azurerm_private_endpoint" "blob" {
  count = var.private_endpoint_subnet_id == null ? 0 : 1

  name                = "${var.storage_account_name}-blob"
  resource_group_name = data.azurerm_resource_group.this.name
  location            = var.location
  subnet_id           = var.private_endpoint_subnet_id
  tags                = local.tags

  private_service_connection {
    name                           = "${var.storage_account_name}-blob"
    private_connection_resource_id = azurerm_storage_account.this.id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }
}

# ---------------------------------------------------------------------------
# Least privilege: append-only writer (custom role without delete) and
# maintenance (built-in Storage Blob Data Contributor) on the container only.
# ---------------------------------------------------------------------------

resource "azurerm_role_definition" "writer" {
  name        = "vdr-append-only-writer-${var.storage_account_name}"
  scope       = azurerm_storage_account.this.id
  description = "vdr backup writer: list, read and create blobs; no delete."

  permissions {
    actions = [
      "Microsoft.Storage/storageAccounts/blobServices/containers/read",
    ]
    data_actions = [
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
    ]
    not_data_actions = [
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/deleteBlobVersion/action",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/permanentDelete/action",
    ]
  }

  assignable_scopes = [azurerm_storage_account.this.id]
}

resource "azurerm_role_assignment" "writer" {
  for_each = toset(var.writer_principal_ids)

  scope              = azurerm_storage_container.repository.resource_manager_id
  role_definition_id = azurerm_role_definition.writer.role_definition_resource_id
  principal_id       = each.value
}

resource "azurerm_role_assignment" "maintenance" {
  for_each = toset(var.maintenance_principal_ids)

  scope                = azurerm_storage_container.repository.resource_manager_id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = each.value
}
