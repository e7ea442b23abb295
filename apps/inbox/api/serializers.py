from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import CannedReply, Conversation, ConversationStatus, Message, MessageType
from ..services.conversations import event_text


class ContactBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    push_name = serializers.CharField()
    display_name = serializers.CharField()
    phone = serializers.CharField()
    initials = serializers.CharField()
    tags = serializers.SerializerMethodField()

    def get_tags(self, obj) -> list[str]:
        return [tag.name for tag in obj.tags.all()]


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="get_full_name")


class TeamBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ConnectionBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    provider = serializers.CharField()


class ConversationSerializer(serializers.ModelSerializer):
    contact = ContactBriefSerializer(read_only=True)
    connection = ConnectionBriefSerializer(read_only=True)
    assignee = UserBriefSerializer(read_only=True, allow_null=True)
    team = TeamBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Conversation
        fields = ["id", "contact", "connection", "status", "bot_state", "assignee", "team", "assigned_at",
                  "waiting_since", "first_human_reply_at", "last_message_at", "last_message_preview",
                  "last_inbound_at", "unread_count", "created_at", "resolved_at"]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    conversation_id = serializers.IntegerField(read_only=True)
    sender_user = UserBriefSerializer(read_only=True, allow_null=True)
    text = serializers.SerializerMethodField()
    media_url = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "conversation_id", "direction", "sender_kind", "sender_user", "type", "text", "media_url",
                  "media_mime", "media_size", "media_name", "payload", "status", "error", "rate_limited",
                  "created_at", "sent_at", "delivered_at", "read_at"]
        read_only_fields = fields

    def get_text(self, obj) -> str:
        if obj.type == MessageType.EVENT:
            return event_text(obj.payload or {}) or obj.text
        return obj.text

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_media_url(self, obj):
        if not obj.media:
            return None
        request = self.context.get("request")
        url = obj.media.url
        return request.build_absolute_uri(url) if request is not None else url


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)
    has_more = serializers.BooleanField(help_text=_("Older messages exist before the first one returned."))


class MessageSendSerializer(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, max_length=4096, trim_whitespace=False,
                                 help_text=_("Variables like {{contact.name}} are filled in."))


class MessageSendMultipartSerializer(MessageSendSerializer):
    file = serializers.FileField(required=False, help_text=_("One attachment, up to 16 MB."))


class AssignSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(required=False, allow_null=True,
                                        help_text=_("A user id; null removes the agent. Omit to keep it."))
    team = serializers.IntegerField(required=False, allow_null=True,
                                    help_text=_("A team id; null removes the team. Omit to keep it. A team "
                                                "given without an agent puts the conversation in its queue."))

    def validate(self, attrs):
        if "assignee" not in attrs and "team" not in attrs:
            raise serializers.ValidationError(_('Send "assignee" (a user id or null) and/or "team" (a team id or '
                                                'null).'))
        return attrs


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConversationStatus.choices)


class CannedReplySerializer(serializers.ModelSerializer):
    shortcut = serializers.CharField(max_length=41)

    class Meta:
        model = CannedReply
        fields = ["id", "shortcut", "title", "text", "created_at"]
        read_only_fields = ["id", "created_at"]
