/**
 * The least-privilege policy as the AWS IoT Developer Guide prints it, written
 * out by hand: the oracle both the template (registry) and the policy engine
 * (local AWS IoT) are checked against.
 */
export function developerGuidePolicy(region: string, account: string) {
  const arn = (kind: string) => `arn:aws:iot:${region}:${account}:${kind}/\${iot:Connection.Thing.ThingName}`;
  return {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: ["iot:Connect"], Resource: [arn("client")] },
      { Effect: "Allow", Action: ["iot:Publish", "iot:Receive"], Resource: [`${arn("topic")}/*`] },
      { Effect: "Allow", Action: ["iot:Subscribe"], Resource: [`${arn("topicfilter")}/*`] },
    ],
  };
}
