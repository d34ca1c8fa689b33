import { Fn } from 'aws-cdk-lib';
import { SecurityGroup, Subnet, Vpc } from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import type { DynashiftMigrationProps } from './props.js';

/**
 * The construct's `vpc` prop from the config's `lambda.vpc` (ids only): imported by id, so synth needs no AWS lookup
 * and no credentials. The functions use exactly the listed subnets, so the VPC's own zones are never read.
 */
export function vpcProps(
  scope: Construct,
  vpc: { vpcId: string; subnetIds: string[]; securityGroupIds: string[] },
): NonNullable<DynashiftMigrationProps['vpc']> {
  return {
    vpc: Vpc.fromVpcAttributes(scope, 'DynashiftVpc', { vpcId: vpc.vpcId, availabilityZones: Fn.getAzs() }),
    subnets: { subnets: vpc.subnetIds.map((id, i) => Subnet.fromSubnetId(scope, `DynashiftSubnet${i}`, id)) },
    securityGroups: vpc.securityGroupIds.map((id, i) => SecurityGroup.fromSecurityGroupId(scope, `DynashiftSecurityGroup${i}`, id)),
  };
}
