"""The AWS emulator tags an API Gateway v2 stage as AWS does (aenv.local.moto_server): TagResource and UntagResource
on the stage's ARN change the tags GetStage answers, so a stage kept under Retain can be marked released."""

from __future__ import annotations

from aenv.local.emulator import REGION, AwsEmulator


def test_a_stage_is_tagged_and_untagged_by_its_arn(emulator: AwsEmulator) -> None:
    emulator.reset()
    api = emulator.client("apigatewayv2")
    api_id = api.create_api(Name="aenv-emulator-ws", ProtocolType="WEBSOCKET",
                            RouteSelectionExpression="$request.body.action")["ApiId"]
    api.create_stage(ApiId=api_id, StageName="live", Tags={"team": "analytics"})
    stage_arn = f"arn:aws:apigateway:{REGION}::/apis/{api_id}/stages/live"

    api.tag_resource(ResourceArn=stage_arn, Tags={"aenv.dev/released": "true"})
    assert api.get_stage(ApiId=api_id, StageName="live")["Tags"] == {"team": "analytics",
                                                                      "aenv.dev/released": "true"}
    api.untag_resource(ResourceArn=stage_arn, TagKeys=["aenv.dev/released"])
    assert api.get_stage(ApiId=api_id, StageName="live")["Tags"] == {"team": "analytics"}

    api_arn = f"arn:aws:apigateway:{REGION}::/apis/{api_id}"  # an API's own tags are moto's, as before
    api.tag_resource(ResourceArn=api_arn, Tags={"team": "analytics"})
    assert api.get_api(ApiId=api_id)["Tags"] == {"team": "analytics"}
    assert api.get_stage(ApiId=api_id, StageName="live")["Tags"] == {"team": "analytics"}
