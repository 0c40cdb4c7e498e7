# Region failover: the primary region is lost. From the standby region:
#   1. a new backup repository bucket (replicated onward to a tertiary region),
#   2. a new database node on the standby Kubernetes cluster,
#   3. restore of the newest verified snapshot from the surviving replica,
#      verified by the restore playbook (apply fails when recall < min_recall).

module "new_repository" {
  source = "../../modules/backup-bucket-aws"

  providers = {
    aws         = aws
    aws.replica = aws.tertiary
  }

  bucket_name                = var.new_bucket_name
  replication_enabled        = true
  replica_bucket_name        = var.new_replica_bucket_name
  object_lock_mode           = "GOVERNANCE"
  object_lock_days           = 30
  writer_principal_arns      = var.writer_principal_arns
  maintenance_principal_arns = var.maintenance_principal_arns
  tags                       = { "vdr-failover" = "true" }
}

module "database" {
  source = "../../modules/vector-db-node"

  engine          = var.engine
  platform        = "kubernetes"
  name            = "vdr-${var.engine}"
  namespace       = "vdr-failover"
  storage_size_gi = var.storage_size_gi
}

module "restore" {
  source = "../../modules/vdr-restore"

  vdr_binary      = var.vdr_binary
  repo            = var.surviving_repo
  collection      = var.collection
  max_age_seconds = var.max_age_seconds
  db_url          = coalesce(var.db_url_override, module.database.db_url)
  db_ready        = module.database.ready
  min_recall      = var.min_recall
  working_dir     = abspath("${path.root}/../../..")
  report_dir      = "failover-report"
}
