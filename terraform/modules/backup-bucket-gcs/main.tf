data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

locals {
  labels     = merge({ "managed-by" = "terraform", "app" = "vdr" }, var.labels)
  versioning = var.protection == "versioning"

  # Primary and (optional) replica bucket carry exactly the same controls.
  buckets = merge(
    {
      primary = {
        name         = var.bucket_name
        location     = var.location
        kms_location = coalesce(var.kms_location, lower(var.location))
        kms_key_id   = var.kms_key_id
        placement    = var.custom_placement_regions
        turbo        = var.turbo_replication
      }
    },
    var.replica_bucket_name == null ? {} : {
      replica = {
        name         = var.replica_bucket_name
        location     = var.replica_location
        kms_location = lower(var.replica_location)
        kms_key_id   = var.replica_kms_key_id
        placement    = []
        turbo        = false
      }
    },
  )

  created_keys = { for k, b in local.buckets : k => b if b.kms_key_id == null }
  kms_key_ids  = { for k, b in local.buckets : k => b.kms_key_id == null ? google_kms_crypto_key.this[k].id : b.kms_key_id }
}

resource "google_kms_key_ring" "this" {
  for_each = local.created_keys

  project  = var.project_id
  name     = "vdr-${each.value.name}"
  location = each.value.kms_location
}

resource "google_kms_crypto_key" "this" {
  for_each = local.created_keys

  name            = "repository"
  key_ring        = google_kms_key_ring.this[each.key].id
  rotation_period = var.kms_rotation_period
  purpose         = "ENCRYPT_DECRYPT"
  labels          = local.labels

  lifecycle {
    prevent_destroy = true
  }
}

# Cloud Storage encrypts with the key on the bucket's behalf.
resource "google_kms_crypto_key_iam_member" "gcs" {
  for_each = local.buckets

  crypto_key_id = local.kms_key_ids[each.key]
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

resource "google_storage_bucket" "this" {
  #checkov:skip=CKV_GCP_62:Access logging is optional (access_log_bucket); set it to enable usage logs.
  #checkov:skip=CKV_GCP_78:Versioning is one of two protection modes (protection = "versioning"); GCS forbids it together with the default mode's retention policy, which protects every object from deletion and overwrite instead.
  for_each = local.buckets

  project                     = var.project_id
  name                        = each.value.name
  location                    = each.value.location
  storage_class               = "STANDARD"
  force_destroy               = var.force_destroy
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  rpo                         = each.value.turbo ? "ASYNC_TURBO" : null
  labels                      = local.labels

  versioning {
    enabled = local.versioning
  }

  dynamic "retention_policy" {
    for_each = local.versioning ? [] : [var.retention_days]
    content {
      retention_period = retention_policy.value * 86400
      is_locked        = var.retention_locked
    }
  }

  soft_delete_policy {
    retention_duration_seconds = var.soft_delete_days * 86400
  }

  encryption {
    default_kms_key_name = local.kms_key_ids[each.key]
  }

  dynamic "custom_placement_config" {
    for_each = length(each.value.placement) == 2 ? [each.value.placement] : []
    content {
      data_locations = custom_placement_config.value
    }
  }

  dynamic "logging" {
    for_each = var.access_log_bucket == null ? [] : [var.access_log_bucket]
    content {
      log_bucket        = logging.value
      log_object_prefix = "gcs-access/${each.value.name}"
    }
  }

  dynamic "lifecycle_rule" {
    for_each = local.versioning ? [1] : []
    content {
      action {
        type          = "SetStorageClass"
        storage_class = "COLDLINE"
      }
      condition {
        days_since_noncurrent_time = var.noncurrent_coldline_days
        with_state                 = "ARCHIVED"
      }
    }
  }

  dynamic "lifecycle_rule" {
    for_each = local.versioning ? [1] : []
    content {
      action {
        type = "Delete"
      }
      condition {
        days_since_noncurrent_time = var.noncurrent_delete_days
        with_state                 = "ARCHIVED"
      }
    }
  }

  lifecycle_rule {
    action {
      type = "AbortIncompleteMultipartUpload"
    }
    condition {
      age = var.abort_incomplete_multipart_days
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.gcs]
}

# ---------------------------------------------------------------------------
# Replication to a second bucket (Storage Transfer Service). Nothing is ever
# deleted in the replica by the job; prune there is left to lifecycle rules.
# ---------------------------------------------------------------------------

data "google_storage_transfer_project_service_account" "sts" {
  count   = var.replica_bucket_name == null ? 0 : 1
  project = var.project_id
}

resource "google_storage_bucket_iam_member" "sts_source" {
  count = var.replica_bucket_name == null ? 0 : 1

  bucket = google_storage_bucket.this["primary"].name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${data.google_storage_transfer_project_service_account.sts[0].email}"
}

resource "google_storage_bucket_iam_member" "sts_source_bucket_reader" {
  count = var.replica_bucket_name == null ? 0 : 1

  bucket = google_storage_bucket.this["primary"].name
  role   = "roles/storage.legacyBucketReader"
  member = "serviceAccount:${data.google_storage_transfer_project_service_account.sts[0].email}"
}

resource "google_storage_bucket_iam_member" "sts_sink" {
  count = var.replica_bucket_name == null ? 0 : 1

  bucket = google_storage_bucket.this["replica"].name
  role   = "roles/storage.legacyBucketWriter"
  member = "serviceAccount:${data.google_storage_transfer_project_service_account.sts[0].email}"
}

resource "google_storage_bucket_iam_member" "sts_sink_reader" {
  count = var.replica_bucket_name == null ? 0 : 1

  bucket = google_storage_bucket.this["replica"].name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${data.google_storage_transfer_project_service_account.sts[0].email}"
}

resource "google_storage_transfer_job" "replicate" {
  count = var.replica_bucket_name == null ? 0 : 1

  project     = var.project_id
  description = "vdr: replicate gs://${var.bucket_name}/${var.repository_prefix} to gs://${var.replica_bucket_name}"

  transfer_spec {
    gcs_data_source {
      bucket_name = google_storage_bucket.this["primary"].name
      path        = var.repository_prefix == "" ? null : "${var.repository_prefix}/"
    }

    gcs_data_sink {
      bucket_name = google_storage_bucket.this["replica"].name
      path        = var.repository_prefix == "" ? null : "${var.repository_prefix}/"
    }

    transfer_options {
      overwrite_objects_already_existing_in_sink = false
      delete_objects_unique_in_sink              = false
      delete_objects_from_source_after_transfer  = false
    }
  }

  schedule {
    schedule_start_date {
      year  = 2024
      month = 1
      day   = 1
    }
    repeat_interval = "${var.replication_interval_seconds}s"
  }

  depends_on = [
    google_storage_bucket_iam_member.sts_source,
    google_storage_bucket_iam_member.sts_source_bucket_reader,
    google_storage_bucket_iam_member.sts_sink,
    google_storage_bucket_iam_member.sts_sink_reader,
  ]
}

# ---------------------------------------------------------------------------
# Least privilege. Writer: list + read + create. Without storage.objects.delete
# an existing object can neither be deleted nor overwritten: append-only.
# ---------------------------------------------------------------------------

locals {
  bucket_names = [for k, b in google_storage_bucket.this : b.name]

  writer_bindings = {
    for pair in setproduct(local.bucket_names, var.writer_members, ["roles/storage.objectViewer", "roles/storage.objectCreator"]) :
    "${pair[0]}|${pair[1]}|${pair[2]}" => { bucket = pair[0], member = pair[1], role = pair[2] }
  }

  maintenance_bindings = {
    for pair in setproduct(local.bucket_names, var.maintenance_members) :
    "${pair[0]}|${pair[1]}" => { bucket = pair[0], member = pair[1] }
  }
}

resource "google_storage_bucket_iam_member" "writer" {
  for_each = local.writer_bindings

  bucket = each.value.bucket
  role   = each.value.role
  member = each.value.member
}

resource "google_storage_bucket_iam_member" "maintenance" {
  for_each = local.maintenance_bindings

  bucket = each.value.bucket
  role   = "roles/storage.objectAdmin"
  member = each.value.member
}
