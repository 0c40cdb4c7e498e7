output "engine" {
  description = "Engine that was brought up."
  value       = var.engine
}

output "db_url" {
  description = "vdr DB URL of the node (pass to --db / --var db=...), e.g. qdrant+http://vdr-restore-db.vdr.svc.cluster.local:6333."
  value       = "${local.e.scheme}://${local.service_host}:${local.e.api_port}"
}

output "host" {
  description = "Host name (Kubernetes service DNS) or VM address of the database."
  value       = local.service_host
}

output "ports" {
  description = "Ports a restore needs, by name (qdrant: http, grpc; milvus: grpc, metrics; chroma: http)."
  value       = local.e.ports
}

output "storage" {
  description = "Storage the node got: size, class and data path inside the container/VM."
  value = {
    size_gi        = var.storage_size_gi
    storage_class  = var.storage_class
    data_dir       = var.platform == "vm" ? var.vm_data_dir : local.e.data_dir
    vm_data_device = var.vm_data_device
  }
}

output "ready" {
  description = "Helm release status (\"deployed\" once helm waited for readiness) or \"cloud-init\" for VMs (readiness is checked by the restore playbook)."
  value       = var.platform == "kubernetes" ? helm_release.db[0].status : "cloud-init"
}

output "cloud_init" {
  description = "Rendered cloud-init user data starting the engine on a VM (pass to aws_instance.user_data, google_compute_instance metadata.user-data or azurerm custom_data with base64encode)."
  value       = local.cloud_init
}
