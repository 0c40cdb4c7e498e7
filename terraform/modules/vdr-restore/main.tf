locals {
  working_dir = coalesce(var.working_dir, path.root)
  report_dir  = startswith(var.report_dir, "/") ? var.report_dir : "${local.working_dir}/${var.report_dir}"

  # The external data source protocol takes string values only; optional keys
  # are left out rather than sent empty. No secret ever goes into the query.
  query = merge(
    {
      repo       = var.repo
      collection = var.collection
    },
    var.tag == null ? {} : { tag = var.tag },
    var.max_age_seconds == 0 ? {} : { max_age_seconds = tostring(var.max_age_seconds) },
  )

  secret_env = merge(
    var.identity_file == null ? {} : { VDR_IDENTITY = var.identity_file },
    var.passphrase_file == null ? {} : { VDR_PASSPHRASE_FILE = var.passphrase_file },
  )
}

# `vdr terraform latest-snapshot` reads the query as JSON on stdin and prints
# one JSON object of strings: snapshot_id, time, age_seconds, records,
# verified ("true"/"false"), recall. It exits non-zero (message on stderr)
# when nothing matches, e.g. no snapshot younger than max_age_seconds.
# It inherits the environment of the terraform process (VDR_IDENTITY,
# VDR_PASSPHRASE_FILE, cloud credentials).
data "external" "latest_snapshot" {
  program = [var.vdr_binary, "terraform", "latest-snapshot"]
  query   = local.query

  lifecycle {
    postcondition {
      condition     = try(length(self.result.snapshot_id) > 0, false)
      error_message = "vdr terraform latest-snapshot returned no snapshot_id."
    }

    postcondition {
      condition     = !var.require_verified || try(self.result.verified == "true", false)
      error_message = "The newest snapshot of this collection has not passed verification; refusing to restore it (set require_verified = false to override)."
    }
  }
}

locals {
  snapshot = data.external.latest_snapshot.result

  playbook_vars = merge(var.extra_vars, {
    snapshot   = local.snapshot.snapshot_id
    repo       = var.repo
    db         = var.db_url
    collection = var.collection
    min_recall = tostring(var.min_recall)
  })

  var_args = join(" ", [for k in sort(keys(local.playbook_vars)) : "--var '${k}=${local.playbook_vars[k]}'"])
}

# Runs once the database node is up (db_ready is only known then) and again
# whenever the snapshot, the target or the node changes. A non-zero exit of
# the playbook (1 failed, 3 verification failed) fails the apply.
resource "terraform_data" "restore" {
  triggers_replace = {
    snapshot_id = local.snapshot.snapshot_id
    db_url      = var.db_url
    db_ready    = var.db_ready
    playbook    = var.playbook
  }

  input = {
    snapshot_id = local.snapshot.snapshot_id
    report_dir  = local.report_dir
  }

  provisioner "local-exec" {
    working_dir = local.working_dir
    environment = local.secret_env
    interpreter = ["/bin/sh", "-c"]
    command     = "'${var.vdr_binary}' playbook run '${var.playbook}' ${local.var_args} --report-dir '${local.report_dir}'"
  }
}
