locals {
  # Pinned defaults per engine (override with chart_version / image_tag). Ports are what vdr's plugins connect to.
  engines = {
    qdrant = {
      repository    = "https://qdrant.github.io/qdrant-helm"
      chart         = "qdrant"
      chart_version = "1.12.4"
      image         = "docker.io/qdrant/qdrant"
      image_tag     = "v1.12.4"
      scheme        = "qdrant+http"
      ports         = { http = 6333, grpc = 6334 }
      api_port      = 6333
      health_path   = "/readyz"
      data_dir      = "/qdrant/storage"
      command       = ""
      env           = {}
      values = {
        persistence = {
          size             = "${var.storage_size_gi}Gi"
          storageClassName = var.storage_class
          accessModes      = ["ReadWriteOnce"]
        }
      }
    }
    milvus = {
      repository    = "https://zilliztech.github.io/milvus-helm"
      chart         = "milvus"
      chart_version = "4.2.8"
      image         = "docker.io/milvusdb/milvus"
      image_tag     = "v2.4.13"
      scheme        = "milvus+http"
      ports         = { grpc = 19530, metrics = 9091 }
      api_port      = 19530
      health_path   = "/healthz"
      data_dir      = "/var/lib/milvus"
      command       = "milvus run standalone"
      env = {
        ETCD_USE_EMBED     = "true"
        ETCD_DATA_DIR      = "/var/lib/milvus/etcd"
        COMMON_STORAGETYPE = "local"
      }
      values = {
        cluster  = { enabled = false }
        pulsar   = { enabled = false }
        pulsarv3 = { enabled = false }
        etcd     = { replicaCount = 1 }
        minio    = { mode = "standalone", persistence = { size = "${var.storage_size_gi}Gi", storageClass = var.storage_class } }
        standalone = {
          messageQueue = "rocksmq"
          persistence = {
            enabled = true
            persistentVolumeClaim = {
              size         = "${var.storage_size_gi}Gi"
              storageClass = var.storage_class
            }
          }
        }
      }
    }
    chroma = {
      repository    = "https://amikos-tech.github.io/chromadb-chart"
      chart         = "chromadb"
      chart_version = "0.1.23"
      image         = "docker.io/chromadb/chroma"
      image_tag     = "0.5.20"
      scheme        = "chroma+http"
      ports         = { http = 8000 }
      api_port      = 8000
      health_path   = "/api/v1/heartbeat"
      data_dir      = "/chroma/chroma"
      command       = ""
      env           = { IS_PERSISTENT = "TRUE", ANONYMIZED_TELEMETRY = "FALSE" }
      values = {
        chromadb = {
          isPersistent        = true
          anonymizedTelemetry = false
          data = {
            volumeSize   = "${var.storage_size_gi}Gi"
            storageClass = var.storage_class
          }
        }
      }
    }
  }

  e         = local.engines[var.engine]
  image_tag = coalesce(var.image_tag, local.e.image_tag)

  service_host = var.platform == "kubernetes" ? "${var.name}.${var.namespace}.svc.cluster.local" : var.vm_host

  helm_values = merge(local.e.values, {
    fullnameOverride = var.name
    image            = { tag = local.image_tag }
  })

  cloud_init = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    engine             = var.engine
    name               = var.name
    image              = "${local.e.image}:${local.image_tag}"
    command            = local.e.command
    data_device        = var.vm_data_device
    data_dir           = var.vm_data_dir
    container_data_dir = local.e.data_dir
    ports              = join(" ", [for p in values(local.e.ports) : "-p ${var.vm_bind_address}:${p}:${p}"])
    env                = join(" ", [for k, v in local.e.env : "-e ${k}=${v}"])
    health_url         = "http://127.0.0.1:${var.engine == "milvus" ? local.e.ports.metrics : local.e.api_port}${local.e.health_path}"
  })
}

resource "helm_release" "db" {
  count = var.platform == "kubernetes" ? 1 : 0

  name             = var.name
  namespace        = var.namespace
  create_namespace = true
  repository       = local.e.repository
  chart            = local.e.chart
  version          = coalesce(var.chart_version, local.e.chart_version)
  atomic           = true
  wait             = true
  timeout          = var.helm_timeout_seconds

  values = compact([yamlencode(local.helm_values), var.extra_values])
}
