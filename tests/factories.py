import factory

from customers.models import ChannelIdentity, Customer, Tag, TagGroup
from messaging.models import ChannelAccount


class ChannelAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelAccount

    kind = "oa"
    name = factory.Sequence(lambda n: f"Account {n}")
    app_id = factory.Sequence(lambda n: f"wx{n:016d}")
    app_secret = factory.Sequence(lambda n: f"secret-{n:026d}")
    token = "callbacktoken"
    encoding_aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    display_name = factory.Sequence(lambda n: f"Customer {n}")


class ChannelIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelIdentity

    customer = factory.SubFactory(CustomerFactory)
    account = factory.SubFactory(ChannelAccountFactory)
    kind = factory.LazyAttribute(lambda o: o.account.identity_kind)
    external_id = factory.Sequence(lambda n: f"openid-{n:08d}")
    follow_state = "following"


class TagGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TagGroup

    name = factory.Sequence(lambda n: f"Group {n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    group = factory.SubFactory(TagGroupFactory)
    name = factory.Sequence(lambda n: f"tag-{n}")
