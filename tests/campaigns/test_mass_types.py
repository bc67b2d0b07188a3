"""Mass sends of every type: an article drafted, published and sent as mpnews to a mirrored tag with
one sendall call, and to a segment by openid lists; text, image, voice, mpvideo and wxcard bodies
as WeChat documents them; the preview to the operator's own WeChat."""

from __future__ import annotations

import pytest
from django.utils import timezone
from wechatpy.exceptions import WeChatClientException

from campaigns import dispatch, services
from campaigns.models import CampaignState, ContactPolicy, Delivery, OperatorIdentity
from customers.models import CustomerTag
from messaging.channels.models import TagMirror
from messaging.content.articles import article_draft_create, article_publish
from messaging.content.materials import material_upload
from tests.factories import CampaignFactory, TagFactory

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 200


def drain(campaign):
    for _ in range(20):
        result = dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=30)
        if result.requeue_in is None:
            return result
    raise AssertionError(result)


def published_article(account):
    cover = material_upload(account=account, kind="thumb", name="cover.jpg", data=JPEG)
    article = article_draft_create(account=account, items=[{"title": "春季新品 8 折", "content": "<p>新品</p>", "thumb_media_id": cover.media_id}])
    return article_publish(article=article)


def mirrored_tag(sandbox, account, people):
    """A product tag on `people`, mirrored to a WeChat tag whose members are the same people."""
    client = sandbox.wechat_client(account.app_id, account.app_secret)
    remote = client.post("tags/create", data={"tag": {"name": "春季"}})["tag"]["id"]
    client.post("tags/members/batchtagging", data={"tagid": remote, "openid_list": [i.external_id for _, i in people]})
    tag = TagFactory()
    CustomerTag.objects.bulk_create([CustomerTag(customer=c, tag=tag) for c, _ in people])
    TagMirror.objects.create(account=account, tag=tag, remote_id=str(remote), synced_at=timezone.now())
    return tag, remote


def mass_campaign(account, segment, content):
    campaign = CampaignFactory(account=account, segment=segment, scheduled_now=True, message_type="mass", content=content)
    services.campaign_plan(campaign_id=campaign.pk)
    return campaign


def mass_calls(sandbox, path):
    return [r for r in sandbox.control.requests(path=path) if r["errcode"] == 0 and r["path"] == path]


@pytest.mark.django_db(transaction=True)
def test_an_article_is_sent_as_mpnews_to_a_mirrored_tag_with_one_sendall_call(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy):
    people = sandbox_followers(sandbox_oa, 5)
    _tag, remote = mirrored_tag(sandbox, sandbox_oa, people)
    article = published_article(sandbox_oa)
    campaign = mass_campaign(sandbox_oa, static_segment([c for c, _ in people]), {"msgtype": "mpnews", "media_id": article.media_id, "title": article.title})
    # Claimed in batches of 2: the first batch makes the one sendall call, the others share it.
    ContactPolicy.objects.filter(pk=1).update(dispatch_batch_size=2)
    drain(campaign)

    [call] = mass_calls(sandbox, "/cgi-bin/message/mass/sendall")
    assert call["body"]["msgtype"] == "mpnews" and call["body"]["mpnews"] == {"media_id": article.media_id}
    assert call["body"]["filter"] == {"is_to_all": False, "tag_id": remote}
    assert mass_calls(sandbox, "/cgi-bin/message/mass/send") == []
    [sent] = [s for s in sandbox.control.sent_messages(sandbox_oa.app_id) if s["api"] == "mass_all"]
    assert sorted(sent["delivered"]) == sorted(i.external_id for _, i in people)
    msgids = set(Delivery.objects.filter(campaign=campaign).values_list("state", "msgid"))
    assert msgids == {("sent", str(sent["msgid"]))}
    campaign.refresh_from_db()
    assert campaign.state == CampaignState.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_a_segment_that_is_not_exactly_the_tag_gets_openid_lists(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy):
    people = sandbox_followers(sandbox_oa, 5)
    mirrored_tag(sandbox, sandbox_oa, people)
    article = published_article(sandbox_oa)
    part = people[:3]
    campaign = mass_campaign(sandbox_oa, static_segment([c for c, _ in part]), {"msgtype": "mpnews", "media_id": article.media_id})
    drain(campaign)

    assert mass_calls(sandbox, "/cgi-bin/message/mass/sendall") == []
    [call] = mass_calls(sandbox, "/cgi-bin/message/mass/send")
    assert call["body"]["msgtype"] == "mpnews" and call["body"]["mpnews"]["media_id"] == article.media_id
    assert sorted(call["body"]["touser"]) == sorted(i.external_id for _, i in part)
    assert len(call["body"]["clientmsgid"]) <= 64


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("msgtype", ["text", "image", "voice", "mpvideo", "wxcard"])
def test_every_mass_type_goes_with_the_body_wechat_documents(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, msgtype):
    people = sandbox_followers(sandbox_oa, 2)
    if msgtype == "text":
        content, expected = {"text": "春季新品"}, {"text": {"content": "春季新品"}}
    elif msgtype == "image":
        ids = [material_upload(account=sandbox_oa, kind="image", name=f"{n}.jpg", data=JPEG).media_id for n in range(2)]
        content, expected = {"media_ids": ids}, {"images": {"media_ids": ids, "recommend": "", "need_open_comment": 0, "only_fans_can_comment": 0}}
    elif msgtype == "voice":
        media_id = material_upload(account=sandbox_oa, kind="voice", name="v.mp3", data=b"ID3000").media_id
        content, expected = {"media_id": media_id}, {"voice": {"media_id": media_id}}
    elif msgtype == "mpvideo":
        media_id = material_upload(account=sandbox_oa, kind="video", name="v.mp4", data=b"000", title="新品", introduction="春季").media_id
        content, expected = {"media_id": media_id}, {"mpvideo": {"media_id": media_id}}
    else:
        content, expected = {"card_id": "pFS7Fjg8kV1IdDz01r4SQwMkuCKc"}, {"wxcard": {"card_id": "pFS7Fjg8kV1IdDz01r4SQwMkuCKc"}}
    campaign = mass_campaign(sandbox_oa, static_segment([c for c, _ in people]), {"msgtype": msgtype, **content})
    drain(campaign)
    [call] = mass_calls(sandbox, "/cgi-bin/message/mass/send")
    assert call["body"]["msgtype"] == msgtype
    if msgtype == "mpvideo":
        # The video's media_id was converted by media/uploadvideo (with its title and
        # introduction), and the send names the converted one (the sandbox refuses the video's own).
        [upload] = mass_calls(sandbox, "/cgi-bin/media/uploadvideo")
        assert upload["body"] == {"media_id": media_id, "title": "新品", "description": "春季"}
        converted = call["body"]["mpvideo"]["media_id"]
        kinds = {m["media_id"]: m["kind"] for m in sandbox.control.call("content", app_id=sandbox_oa.app_id)["materials"]}
        assert converted != media_id and kinds[converted] == "mpvideo"
        expected = {"mpvideo": {"media_id": converted}}
    assert {k: call["body"][k] for k in expected} == expected
    assert set(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True)) == {"sent"}


def test_the_sandbox_refuses_an_unconverted_video_and_converts_only_videos(sandbox):
    sandbox.control.register_app(kind="oa", app_id="wxvideo", secret="s")
    client = sandbox.wechat_client("wxvideo", "s")
    video = client.post("material/add_material", params={"type": "video"}, files={
        "media": ("v.mp4", b"000", "video/mp4"), "description": (None, '{"title": "t", "introduction": "i"}')})["media_id"]
    image = client.post("material/add_material", params={"type": "image"}, files={"media": ("i.jpg", JPEG, "image/jpeg")})["media_id"]
    send = {"touser": ["o1", "o2"], "msgtype": "mpvideo"}
    with pytest.raises(WeChatClientException) as caught:
        client.post("message/mass/send", data={**send, "mpvideo": {"media_id": video}})
    assert caught.value.errcode == 40007  # a video material's own media_id: convert it first
    for bad in (image, "nothing"):
        with pytest.raises(WeChatClientException) as caught:
            client.post("media/uploadvideo", data={"media_id": bad, "title": "t", "description": "d"})
        assert caught.value.errcode == 40007
    answer = client.post("media/uploadvideo", data={"media_id": video, "title": "t", "description": "d"})
    assert answer["type"] == "video" and answer["media_id"] != video


@pytest.mark.django_db(transaction=True)
def test_a_media_id_the_account_does_not_have_fails_the_send(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy):
    people = sandbox_followers(sandbox_oa, 2)
    campaign = mass_campaign(sandbox_oa, static_segment([c for c, _ in people]), {"msgtype": "mpnews", "media_id": "not-a-draft"})
    drain(campaign)
    assert set(Delivery.objects.filter(campaign=campaign).values_list("state", "error_code")) == {("failed", "40007")}


@pytest.mark.django_db(transaction=True)
def test_the_test_send_of_a_mass_message_is_a_preview(sandbox, sandbox_oa, sandbox_followers, static_segment, admin_user):
    [(customer, identity)] = sandbox_followers(sandbox_oa, 1)
    OperatorIdentity.objects.create(user=admin_user, identity=identity)
    article = published_article(sandbox_oa)
    campaign = CampaignFactory(account=sandbox_oa, message_type="mass", content={"msgtype": "mpnews", "media_id": article.media_id})
    [result] = services.campaign_test_send(campaign=campaign, user=admin_user)
    assert result["status"] == "sent"
    [call] = mass_calls(sandbox, "/cgi-bin/message/mass/preview")
    assert call["body"] == {"msgtype": "mpnews", "mpnews": {"media_id": article.media_id}, "touser": identity.external_id}
    assert mass_calls(sandbox, "/cgi-bin/message/mass/send") == []
