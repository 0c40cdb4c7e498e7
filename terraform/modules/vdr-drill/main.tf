locals {
  working_dir = coalesce(var.working_dir, path.root)
  report_dir  = startswith(var.report_dir, "/") ? var.report_dir : "${local.working_dir}/${var.report_dir}"

  # Values are single-quoted for the shell (validated to contain no quote).
  var_args = join(" ", [for k in sort(keys(var.playbook_vars)) : "--var '${k}=${var.playbook_vars[k]}'"])
}

resource "terraform_data" "drill" {
  triggers_replace = {
    run_id     = var.run_id
    playbook   = var.playbook
    vars       = var.playbook_vars
    report_dir = local.report_dir
  }

  input = {
    report_dir = local.report_dir
  }

  provisioner "local-exec" {
    working_dir = local.working_dir
    environment = var.environment
    interpreter = ["/bin/sh", "-c"]
    # exit code of vdr is the result: 0 ok, 1 failed, 2 usage, 3 verification/assertion failed
    command = "'${var.vdr_binary}' playbook run '${var.playbook}' ${local.var_args} --report-dir '${local.report_dir}'"
  }
}
