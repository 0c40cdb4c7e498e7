data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  root_arn   = "arn:${local.partition}:iam::${local.account_id}:root"

  # "vdr/" or "" — every object of the repository lives below it.
  key_prefix = var.repository_prefix == "" ? "" : "${var.repository_prefix}/"

  create_kms_key         = var.kms_key_arn == null
  create_replica_kms_key = var.replication_enabled && var.replica_kms_key_arn == null

  kms_key_arn         = local.create_kms_key ? aws_kms_key.primary[0].arn : var.kms_key_arn
  replica_kms_key_arn = var.replication_enabled ? (local.create_replica_kms_key ? aws_kms_key.replica[0].arn : var.replica_kms_key_arn) : null

  bucket_kms_key_arns = compact([local.kms_key_arn, local.replica_kms_key_arn])

  tags = merge({ "managed-by" = "terraform", "app" = "vdr" }, var.tags)
}

# ---------------------------------------------------------------------------
# KMS keys (created only when no key ARN is given)
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:Key policy: "Resource = *" means this key; the account root statement is the AWS-documented default that lets IAM policies grant use.
  #checkov:skip=CKV_AWS_111:Key policy: "Resource = *" means this key only.
  #checkov:skip=CKV_AWS_356:Key policy: "Resource = *" means this key only.
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.root_arn]
    }
  }

  statement {
    sid    = "S3UsesKeyForThisAccount"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey*",
      "kms:ReEncrypt*",
      "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "primary" {
  count = local.create_kms_key ? 1 : 0

  description             = "vdr backup repository ${var.bucket_name}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "primary" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/${var.name_prefix}-${var.bucket_name}"
  target_key_id = aws_kms_key.primary[0].key_id
}

resource "aws_kms_key" "replica" {
  count    = local.create_replica_kms_key ? 1 : 0
  provider = aws.replica

  description             = "vdr backup repository replica ${var.replica_bucket_name}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "replica" {
  count    = local.create_replica_kms_key ? 1 : 0
  provider = aws.replica

  name          = "alias/${var.name_prefix}-${var.replica_bucket_name}"
  target_key_id = aws_kms_key.replica[0].key_id
}

# ---------------------------------------------------------------------------
# Buckets
# ---------------------------------------------------------------------------

module "primary" {
  source = "./bucket"

  name                            = var.bucket_name
  force_destroy                   = var.force_destroy
  object_lock_mode                = var.object_lock_mode
  object_lock_days                = var.object_lock_days
  kms_key_arn                     = local.kms_key_arn
  noncurrent_transition_days      = var.noncurrent_transition_days
  noncurrent_storage_class        = var.noncurrent_storage_class
  noncurrent_expiration_days      = var.noncurrent_expiration_days
  abort_incomplete_multipart_days = var.abort_incomplete_multipart_days
  access_log_bucket               = var.access_log_bucket
  access_log_prefix               = var.access_log_prefix
  tags                            = local.tags
}

module "replica" {
  source = "./bucket"
  count  = var.replication_enabled ? 1 : 0

  providers = {
    aws = aws.replica
  }

  name                            = var.replica_bucket_name
  force_destroy                   = var.force_destroy
  object_lock_mode                = var.object_lock_mode
  object_lock_days                = var.object_lock_days
  kms_key_arn                     = local.replica_kms_key_arn
  noncurrent_transition_days      = var.noncurrent_transition_days
  noncurrent_storage_class        = var.noncurrent_storage_class
  noncurrent_expiration_days      = var.noncurrent_expiration_days
  abort_incomplete_multipart_days = var.abort_incomplete_multipart_days
  access_log_bucket               = var.replica_access_log_bucket
  access_log_prefix               = var.access_log_prefix
  tags                            = local.tags
}

# ---------------------------------------------------------------------------
# Cross-region replication (every version, delete markers included, so the
# replica is a consistent repository; locked versions stay protected there too)
# ---------------------------------------------------------------------------

data "aws_iam_policy_document" "replication_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "replication" {
  count = var.replication_enabled ? 1 : 0

  name               = "${var.name_prefix}-${var.bucket_name}-replication"
  assume_role_policy = data.aws_iam_policy_document.replication_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "replication" {
  count = var.replication_enabled ? 1 : 0

  statement {
    sid       = "ReadSourceConfiguration"
    effect    = "Allow"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [module.primary.arn]
  }

  statement {
    sid    = "ReadSourceVersions"
    effect = "Allow"
    actions = [
      "s3:GetObjectVersionForReplication",
      "s3:GetObjectVersionAcl",
      "s3:GetObjectVersionTagging",
      "s3:GetObjectRetention",
      "s3:GetObjectLegalHold",
    ]
    resources = ["${module.primary.arn}/*"]
  }

  statement {
    sid    = "WriteReplicaVersions"
    effect = "Allow"
    actions = [
      "s3:ReplicateObject",
      "s3:ReplicateDelete",
      "s3:ReplicateTags",
      "s3:ObjectOwnerOverrideToBucketOwner",
    ]
    resources = ["${module.replica[0].arn}/*"]
  }

  statement {
    sid       = "DecryptSource"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key_arn]
  }

  statement {
    sid       = "EncryptReplica"
    effect    = "Allow"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [local.replica_kms_key_arn]
  }
}

resource "aws_iam_role_policy" "replication" {
  count = var.replication_enabled ? 1 : 0

  name   = "replicate-${var.bucket_name}"
  role   = aws_iam_role.replication[0].id
  policy = data.aws_iam_policy_document.replication[0].json
}

resource "aws_s3_bucket_replication_configuration" "this" {
  count = var.replication_enabled ? 1 : 0

  role   = aws_iam_role.replication[0].arn
  bucket = module.primary.id

  rule {
    id       = "replicate-repository"
    status   = "Enabled"
    priority = 1

    filter {}

    delete_marker_replication {
      status = "Enabled"
    }

    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
      replica_modifications {
        status = "Enabled"
      }
    }

    destination {
      bucket        = module.replica[0].arn
      storage_class = var.replica_storage_class

      encryption_configuration {
        replica_kms_key_id = local.replica_kms_key_arn
      }

      replication_time {
        status = "Enabled"
        time {
          minutes = 15
        }
      }

      metrics {
        status = "Enabled"
        event_threshold {
          minutes = 15
        }
      }
    }
  }

  depends_on = [module.primary, module.replica]
}

# ---------------------------------------------------------------------------
# Least privilege: append-only writer and maintenance (prune) policies
# ---------------------------------------------------------------------------

locals {
  bucket_arns = compact([module.primary.arn, var.replication_enabled ? module.replica[0].arn : ""])
  object_arns = [for b in local.bucket_arns : "${b}/${local.key_prefix}*"]
  lock_arns   = [for b in local.bucket_arns : "${b}/${local.key_prefix}locks/*"]

  # Explicit denies win over any other grant the writer's principal may hold.
  writer_denied_actions = concat(
    var.writer_may_delete_locks ? [] : ["s3:DeleteObject"],
    [
      "s3:DeleteObjectVersion",
      "s3:BypassGovernanceRetention",
      "s3:PutObjectRetention",
      "s3:PutObjectLegalHold",
      "s3:PutBucketObjectLockConfiguration",
      "s3:PutLifecycleConfiguration",
      "s3:PutBucketPolicy",
      "s3:PutBucketVersioning",
    ],
  )
}

data "aws_iam_policy_document" "writer" {
  statement {
    sid       = "ListRepository"
    effect    = "Allow"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
    resources = local.bucket_arns

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.key_prefix}*", ""]
    }
  }

  statement {
    sid    = "ReadAndAppendObjects"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = local.object_arns
  }

  dynamic "statement" {
    for_each = var.writer_may_delete_locks ? [1] : []
    content {
      sid       = "RemoveOwnLocks"
      effect    = "Allow"
      actions   = ["s3:DeleteObject"]
      resources = local.lock_arns
    }
  }

  statement {
    sid       = "NeverDeleteOrUnlock"
    effect    = "Deny"
    actions   = local.writer_denied_actions
    resources = concat(local.bucket_arns, [for b in local.bucket_arns : "${b}/*"])
  }

  statement {
    sid       = "UseRepositoryKeys"
    effect    = "Allow"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = local.bucket_kms_key_arns
  }
}

data "aws_iam_policy_document" "maintenance" {
  statement {
    sid       = "ListRepository"
    effect    = "Allow"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
    resources = local.bucket_arns

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.key_prefix}*", ""]
    }
  }

  statement {
    sid    = "ReadWriteAndPruneObjects"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
      "s3:GetObjectRetention",
    ]
    resources = local.object_arns
  }

  statement {
    sid       = "LockedVersionsStayLocked"
    effect    = "Deny"
    actions   = ["s3:BypassGovernanceRetention", "s3:PutObjectRetention", "s3:PutBucketObjectLockConfiguration", "s3:PutBucketVersioning", "s3:PutBucketPolicy", "s3:PutLifecycleConfiguration"]
    resources = concat(local.bucket_arns, [for b in local.bucket_arns : "${b}/*"])
  }

  statement {
    sid       = "UseRepositoryKeys"
    effect    = "Allow"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = local.bucket_kms_key_arns
  }
}

resource "aws_iam_policy" "writer" {
  name        = "${var.name_prefix}-${var.bucket_name}-writer"
  description = "vdr append-only writer for s3://${var.bucket_name}/${var.repository_prefix}: backup, check, verify, restore; no deletes."
  policy      = data.aws_iam_policy_document.writer.json
  tags        = local.tags
}

resource "aws_iam_policy" "maintenance" {
  name        = "${var.name_prefix}-${var.bucket_name}-maintenance"
  description = "vdr maintenance for s3://${var.bucket_name}/${var.repository_prefix}: forget and prune (deletes; object lock still holds locked versions)."
  policy      = data.aws_iam_policy_document.maintenance.json
  tags        = local.tags
}

data "aws_iam_policy_document" "writer_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = length(var.writer_principal_arns) > 0 ? var.writer_principal_arns : [local.root_arn]
    }
  }
}

data "aws_iam_policy_document" "maintenance_assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = length(var.maintenance_principal_arns) > 0 ? var.maintenance_principal_arns : [local.root_arn]
    }
  }
}

resource "aws_iam_role" "writer" {
  count = length(var.writer_principal_arns) > 0 ? 1 : 0

  name                 = "${var.name_prefix}-${var.bucket_name}-writer"
  assume_role_policy   = data.aws_iam_policy_document.writer_assume.json
  max_session_duration = 43200
  tags                 = local.tags
}

resource "aws_iam_role_policy_attachment" "writer" {
  count = length(var.writer_principal_arns) > 0 ? 1 : 0

  role       = aws_iam_role.writer[0].name
  policy_arn = aws_iam_policy.writer.arn
}

resource "aws_iam_role" "maintenance" {
  count = length(var.maintenance_principal_arns) > 0 ? 1 : 0

  name                 = "${var.name_prefix}-${var.bucket_name}-maintenance"
  assume_role_policy   = data.aws_iam_policy_document.maintenance_assume.json
  max_session_duration = 3600
  tags                 = local.tags
}

resource "aws_iam_role_policy_attachment" "maintenance" {
  count = length(var.maintenance_principal_arns) > 0 ? 1 : 0

  role       = aws_iam_role.maintenance[0].name
  policy_arn = aws_iam_policy.maintenance.arn
}
