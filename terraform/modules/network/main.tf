# A VPC across two availability zones: public subnets for the load balancer and,
# unless nat_mode is "none", private subnets for the tasks behind NAT.
# The S3 gateway endpoint keeps S3 traffic (expectations, image layers on ECR)
# off the NAT gateways and the internet.

# Read only when availability_zones is not given. Only the first two zone names
# (in name order) are used, so a zone AWS adds later does not change the choice.
data "aws_availability_zones" "available" {
  count = var.availability_zones == null ? 1 : 0

  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

data "aws_region" "current" {}

locals {
  azs         = var.availability_zones != null ? var.availability_zones : slice(sort(data.aws_availability_zones.available[0].names), 0, 2)
  private     = var.nat_mode != "none"
  nat_count   = var.nat_mode == "per_az" ? 2 : (var.nat_mode == "single" ? 1 : 0)
  public_cidr = [for index in range(2) : cidrsubnet(var.cidr_block, 20 - tonumber(split("/", var.cidr_block)[1]), index)]
  # Private subnets start after the public ones (netnums 2 and 3).
  private_cidr = [for index in range(2) : cidrsubnet(var.cidr_block, 20 - tonumber(split("/", var.cidr_block)[1]), index + 2)]
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:flow logs are not kept for hours-long test VPCs carrying synthetic mock traffic; their log destination would outlive the stack
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })
}

# Take over the default security group and leave it without rules, so nothing
# can use it by accident (CKV2_AWS_12).
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-default-unused" })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "public" {
  count = 2

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = local.public_cidr[count.index]
  # No public IP by default: the ALB does not need one here, and ECS tasks that
  # need one (nat_mode = "none") ask for it with assign_public_ip.
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-public-${local.azs[count.index]}", Tier = "public" })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = 2

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_subnet" "private" {
  count = local.private ? 2 : 0

  vpc_id                  = aws_vpc.this.id
  availability_zone       = local.azs[count.index]
  cidr_block              = local.private_cidr[count.index]
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}", Tier = "private" })
}

resource "aws_eip" "nat" {
  count = local.nat_count

  domain = "vpc"

  tags = merge(var.tags, { Name = "${var.name}-nat-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = merge(var.tags, { Name = "${var.name}-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

# One private route table per AZ; with nat_mode = "single" both point at the one NAT gateway.
resource "aws_route_table" "private" {
  count = local.private ? 2 : 0

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}" })
}

resource "aws_route" "private_nat" {
  count = local.private ? 2 : 0

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[min(count.index, local.nat_count - 1)].id
}

resource "aws_route_table_association" "private" {
  count = local.private ? 2 : 0

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = concat([aws_route_table.public.id], aws_route_table.private[*].id)

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}
