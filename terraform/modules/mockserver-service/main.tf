# MockServer on ECS Fargate behind an internet-facing ALB.
#
# Expectations: the task has two containers sharing a task-local volume. The
# non-essential init container "expectations" (AWS CLI image) copies the
# environment's expectations object from S3 to /expectations/expectations.json
# and exits; "mockserver" starts only after it exited successfully (dependsOn
# SUCCESS) and loads the file through MOCKSERVER_INITIALIZATION_JSON_PATH.
# This needs no custom image and no registry; the task role may read exactly
# that one object. The content hash goes into the container definitions, so a
# change of the expectations makes a new task definition revision and a rolling
# deployment (guarded by the circuit breaker, which rolls back on failure).

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  sizes = {
    small  = { cpu = 256, memory = 512 }
    medium = { cpu = 512, memory = 1024 }
    large  = { cpu = 1024, memory = 2048 }
    xlarge = { cpu = 2048, memory = 4096 }
  }
  size = local.sizes[var.instance_size]

  https = var.domain_name != null && var.hosted_zone_id != null
  # ALB names: at most 32 characters, unique per account and region.
  lb_name = length(var.name) <= 32 ? var.name : "${substr(var.name, 0, 27)}-${substr(md5(var.name), 0, 4)}"

  expectations_dir  = "/expectations"
  expectations_path = "${local.expectations_dir}/expectations.json"
  expectations_arn  = "arn:${data.aws_partition.current.partition}:s3:::${var.expectations_bucket}/${var.expectations_key}"

  listener_ports = local.https ? [80, 443] : [80]
  alb_ingress = {
    for pair in setproduct(var.allowed_cidrs, local.listener_ports) : "${pair[0]}:${pair[1]}" => {
      cidr = pair[0]
      port = pair[1]
    }
  }

  url = local.https ? "https://${var.domain_name}" : "http://${aws_lb.this.dns_name}"

  # Target tracking on CPU and on ALB requests per target: one policy per metric.
  scaling_metrics = {
    cpu = {
      target = var.cpu_target_percent
      metric = "ECSServiceAverageCPUUtilization"
      label  = null
    }
    requests = {
      target = var.requests_per_target
      metric = "ALBRequestCountPerTarget"
      label  = "${aws_lb.this.arn_suffix}/${aws_lb_target_group.this.arn_suffix}"
    }
  }

  # MockServer's control plane (see the listener rules below). A rule compares at most
  # five values: the two paths and three source CIDRs.
  control_plane_paths       = ["/mockserver/*", "/_mockserver_*"]
  control_plane_cidr_groups = chunklist(var.control_plane_cidrs, 3)
  unprefixed_control_paths = {
    expectations = { priority = 101, paths = ["/expectation", "/openapi", "/clear"] }
    state        = { priority = 102, paths = ["/reset", "/retrieve", "/verify"] }
    server       = { priority = 103, paths = ["/verifySequence", "/bind", "/stop"] }
  }
  control_plane_refusal = "MockServer's control plane answers only the team's networks (control_plane_cidrs).\n"
}

# --- logs --------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:logs use CloudWatch's default encryption; a per-environment CMK would outlive the hours-long stack by its 7-30 day deletion window
  #checkov:skip=CKV_AWS_338:retention is a variable (default 7 days): the logs of a mock API that lives hours are not kept for a year
  name              = "/ephemera/${var.name}/mockserver"
  retention_in_days = var.log_retention_days

  tags = var.tags
}

# --- IAM -----------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Used by the ECS agent to start the containers: both images are public (Docker
# Hub, ECR Public), so it only needs to write to the log group.
resource "aws_iam_role" "execution" {
  name_prefix          = "${substr(var.name, 0, 27)}-exec-"
  path                 = var.iam_path
  permissions_boundary = var.permissions_boundary_arn
  description          = "ECS task execution role of the ${var.name} mock API: writes its container logs."
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "WriteContainerLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "container-logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# Assumed by the containers: the init container reads the one expectations
# object, nothing else. (The bucket's default encryption uses the AWS managed
# key aws/s3, whose key policy already allows use through S3 in this account.)
resource "aws_iam_role" "task" {
  name_prefix          = "${substr(var.name, 0, 27)}-task-"
  path                 = var.iam_path
  permissions_boundary = var.permissions_boundary_arn
  description          = "ECS task role of the ${var.name} mock API: reads its expectations object."
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ReadExpectations"
    actions   = ["s3:GetObject"]
    resources = [local.expectations_arn]
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "read-expectations"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# --- ECS ---------------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  # ECS Exec is not enabled, so there is no exec session logging or key to configure.
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = local.size.cpu
  memory                   = local.size.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # Task-local scratch volumes, so the containers can run with read-only root
  # filesystems: the expectations file, and /tmp (the JVM's and the CLI's scratch).
  volume {
    name = "expectations"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name                   = "expectations"
      image                  = var.aws_cli_image
      essential              = false
      readonlyRootFilesystem = true
      # The image's entrypoint is the aws binary.
      command = ["s3", "cp", "s3://${var.expectations_bucket}/${var.expectations_key}", local.expectations_path, "--only-show-errors"]
      environment = [
        { name = "AWS_REGION", value = data.aws_region.current.region },
        { name = "EXPECTATIONS_HASH", value = var.expectations_hash },
        { name = "HOME", value = "/tmp" },
      ]
      mountPoints = [
        { sourceVolume = "expectations", containerPath = local.expectations_dir, readOnly = false },
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = data.aws_region.current.region
          awslogs-stream-prefix = "expectations"
        }
      }
      dockerLabels = { "ephemera.expectations-hash" = var.expectations_hash }
    },
    {
      name                   = "mockserver"
      image                  = var.mockserver_image
      essential              = true
      readonlyRootFilesystem = var.mockserver_readonly_root_filesystem
      # The image's entrypoint is MockServer's launcher; these are its arguments.
      command = ["-serverPort", tostring(var.container_port), "-logLevel", "INFO"]
      portMappings = [
        { containerPort = var.container_port, hostPort = var.container_port, protocol = "tcp" },
      ]
      environment = [
        { name = "EXPECTATIONS_HASH", value = var.expectations_hash },
        { name = "MOCKSERVER_INITIALIZATION_JSON_PATH", value = local.expectations_path },
        # Unmatched requests get 404. By default MockServer sends a request that no
        # expectation matches on to the host its Host header names
        # (attemptToProxyIfNoMatchingExpectation; HttpActionHandler, mockserver-core
        # 5.15.0): anyone reaching the load balancer could make the task call any
        # address it can reach.
        { name = "MOCKSERVER_ATTEMPT_TO_PROXY_IF_NO_MATCHING_EXPECTATION", value = "false" },
      ]
      mountPoints = [
        { sourceVolume = "expectations", containerPath = local.expectations_dir, readOnly = true },
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]
      dependsOn = [
        { containerName = "expectations", condition = "SUCCESS" },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = data.aws_region.current.region
          awslogs-stream-prefix = "mockserver"
        }
      }
      dockerLabels = { "ephemera.expectations-hash" = var.expectations_hash }
    },
  ])

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  name                               = var.name
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.min_tasks
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  propagate_tags                     = "SERVICE"
  enable_ecs_managed_tags            = true
  health_check_grace_period_seconds  = 120
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  wait_for_steady_state              = var.wait_for_steady_state

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.task_subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = var.assign_public_ip
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = "mockserver"
    container_port   = var.container_port
  }

  # Auto scaling owns the running count after creation.
  lifecycle {
    ignore_changes = [desired_count]
  }

  tags = var.tags

  # The target group must be attached to a listener before a service can use it,
  # and the roles' policies must exist before the first task starts.
  depends_on = [
    aws_lb_listener.http_forward,
    aws_lb_listener.https,
    aws_iam_role_policy.execution,
    aws_iam_role_policy.task,
  ]
}

# --- auto scaling -------------------------------------------------------------

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.min_tasks <= var.max_tasks
      error_message = "min_tasks (${var.min_tasks}) must not be greater than max_tasks (${var.max_tasks})."
    }
  }
}

resource "aws_appautoscaling_policy" "this" {
  for_each = local.scaling_metrics

  name               = "${var.name}-${each.key}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  resource_id        = aws_appautoscaling_target.this.resource_id
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target
    scale_in_cooldown  = 120
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = each.value.metric
      resource_label         = each.value.label
    }
  }
}

# --- security groups ------------------------------------------------------------

resource "aws_security_group" "alb" {
  name_prefix = "${substr(var.name, 0, 27)}-alb-"
  description = "Load balancer of the ${var.name} mock API: HTTP/HTTPS from the allowed CIDRs"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb" {
  # A public mock API: 80 (and 443 with a domain) open to allowed_cidrs, default anywhere;
  # with a domain, port 80 only redirects to HTTPS.
  for_each = local.alb_ingress

  security_group_id = aws_security_group.alb.id
  description       = "Port ${each.value.port} from ${each.value.cidr}"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the MockServer tasks on the container port"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = aws_security_group.task.id

  tags = var.tags
}

resource "aws_security_group" "task" {
  name_prefix = "${substr(var.name, 0, 27)}-task-"
  description = "MockServer tasks of ${var.name}: the container port from the load balancer only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-task" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "task_from_alb" {
  security_group_id            = aws_security_group.task.id
  description                  = "Container port from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = aws_security_group.alb.id

  tags = var.tags
}

# Image pulls (Docker Hub, ECR Public), S3 and CloudWatch Logs are all HTTPS.
resource "aws_vpc_security_group_egress_rule" "task_https" {
  security_group_id = aws_security_group.task.id
  description       = "HTTPS out: image pulls, S3 and CloudWatch Logs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"

  tags = var.tags
}

# --- load balancer ----------------------------------------------------------------

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:access logs are not kept for hours-long test stacks (the log bucket would outlive them)
  #checkov:skip=CKV_AWS_150:deletion protection would stop the TTL janitor from destroying the stack
  #checkov:skip=CKV2_AWS_20:HTTP is redirected to HTTPS whenever a domain is configured; without one the stack serves plain HTTP on purpose (aws_lb_listener.http_forward)
  #checkov:skip=CKV2_AWS_28:no WAF in front of a short-lived mock API serving synthetic data
  name                       = local.lb_name
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = false

  tags = var.tags

  lifecycle {
    precondition {
      condition     = (var.domain_name == null) == (var.hosted_zone_id == null)
      error_message = "domain_name and hosted_zone_id go together: set both (HTTPS) or neither (plain HTTP)."
    }
  }
}

# MockServer's status endpoint answers only PUT /mockserver/status; ALB health
# checks can only GET. A running MockServer answers that GET with 404 (no
# expectation matches it) while a dead or starting one does not answer or the
# ALB gets a 5xx, so the matcher 200-499 turns "MockServer answers HTTP" into
# healthy without adding an expectation to every environment's file.
resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; the hop to the task stays inside the VPC and MockServer serves plain HTTP on its port
  name_prefix          = "mock-"
  port                 = var.container_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 15

  health_check {
    enabled             = true
    protocol            = "HTTP"
    path                = var.health_check_path
    matcher             = var.health_check_matcher
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# Plain HTTP (no domain): forward port 80 to MockServer.
resource "aws_lb_listener" "http_forward" {
  #checkov:skip=CKV_AWS_2:created only when no domain_name is given; with a domain, port 80 redirects to the HTTPS listener instead
  #checkov:skip=CKV_AWS_103:plain HTTP listener, no TLS policy applies; the HTTPS listener uses a TLS 1.2+ policy
  count = local.https ? 0 : 1

  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

# HTTPS (domain given): port 80 only redirects.
resource "aws_lb_listener" "http_redirect" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_acm_certificate_validation.this[0].certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = var.tags
}

# --- MockServer's control plane: the team's networks only ----------------------------
#
# MockServer takes new expectations, clears and resets them and hands out the requests
# it received on PUT /mockserver/expectation, /clear, /reset, /retrieve, /verify … and,
# for old clients, on the same paths without the prefix (HttpState.handle in
# mockserver-core, HttpRequestHandler in mockserver-netty, 5.15.0); GET
# /mockserver/dashboard shows it all. It compares raw paths, case-sensitively, as ALB
# path patterns do. So the listener that forwards to it (http_forward, or https with a
# domain: each rule names both, and only the one that exists is chosen) forwards
# /mockserver/* and MockServer's websocket callbacks (/_mockserver_*) only from
# control_plane_cidrs (default: nobody) and answers everyone else 403. PUT
# /mockserver/status (read-only) stays open; the unprefixed PUTs are refused to all (the
# clients use the prefix). CKV_EPH_7 (policies/eph_control_plane.py) checks it.

resource "aws_lb_listener_rule" "control_plane_status" {
  listener_arn = local.https ? aws_lb_listener.https[0].arn : aws_lb_listener.http_forward[0].arn
  priority     = 1

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  condition {
    path_pattern {
      values = ["/mockserver/status"]
    }
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "control_plane_team" {
  count = length(local.control_plane_cidr_groups)

  listener_arn = local.https ? aws_lb_listener.https[0].arn : aws_lb_listener.http_forward[0].arn
  priority     = 10 + count.index

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  condition {
    path_pattern {
      values = local.control_plane_paths
    }
  }

  condition {
    source_ip {
      values = local.control_plane_cidr_groups[count.index]
    }
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "control_plane_refused" {
  listener_arn = local.https ? aws_lb_listener.https[0].arn : aws_lb_listener.http_forward[0].arn
  priority     = 100

  action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      status_code  = "403"
      message_body = local.control_plane_refusal
    }
  }

  condition {
    path_pattern {
      values = local.control_plane_paths
    }
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "control_plane_unprefixed" {
  for_each = local.unprefixed_control_paths

  listener_arn = local.https ? aws_lb_listener.https[0].arn : aws_lb_listener.http_forward[0].arn
  priority     = each.value.priority

  action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      status_code  = "403"
      message_body = local.control_plane_refusal
    }
  }

  condition {
    http_request_method {
      values = ["PUT"]
    }
  }

  condition {
    path_pattern {
      values = each.value.paths
    }
  }

  tags = var.tags
}

# --- certificate and DNS (HTTPS only) -------------------------------------------------

resource "aws_acm_certificate" "this" {
  count = local.https ? 1 : 0

  domain_name       = var.domain_name
  validation_method = "DNS"

  tags = merge(var.tags, { Name = var.domain_name })

  lifecycle {
    create_before_destroy = true
  }
}

# Keyed by the domain name (known at plan time), not by the certificate's
# validation options (known only after the certificate exists).
resource "aws_route53_record" "validation" {
  for_each = local.https ? toset([var.domain_name]) : toset([])

  zone_id         = var.hosted_zone_id
  allow_overwrite = true
  ttl             = 60
  name            = one([for option in aws_acm_certificate.this[0].domain_validation_options : option.resource_record_name if option.domain_name == each.key])
  type            = one([for option in aws_acm_certificate.this[0].domain_validation_options : option.resource_record_type if option.domain_name == each.key])
  records         = [one([for option in aws_acm_certificate.this[0].domain_validation_options : option.resource_record_value if option.domain_name == each.key])]
}

resource "aws_acm_certificate_validation" "this" {
  count = local.https ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for record in aws_route53_record.validation : record.fqdn]
}

resource "aws_route53_record" "alias" {
  count = local.https ? 1 : 0

  zone_id = var.hosted_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}
