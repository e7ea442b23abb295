"""Inbox API: conversations (list with the page's filters, detail, assign, status, bot pause and
resume, read), their messages (cursor history, send text or media, retry) and canned replies.
Conversations the user may not see answer 404, as if they did not exist."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import Team, User
from apps.accounts.roles import user_can

from .. import selectors
from ..forms import clean_attachment
from ..models import Conversation, Message, SenderKind
from ..selectors import ConversationFilters
from ..services import canned as canned_services
from ..services import conversations as conversation_services
from ..services.conversations import UNSET
from .serializers import (
    AssignSerializer,
    CannedReplySerializer,
    ConversationSerializer,
    MessagePageSerializer,
    MessageSendMultipartSerializer,
    MessageSendSerializer,
    MessageSerializer,
    StatusSerializer,
)


class InboxAccess(BasePermission):
    message = "Only staff who answer conversations may use the inbox."

    def has_permission(self, request, view):
        return selectors.inbox_can_access(request.user)


def _require_reply(user) -> None:
    if not selectors.inbox_can_reply(user):
        raise PermissionDenied("You may read conversations but not act on them.")


def _invalid(exc: DjangoValidationError):
    raise ValidationError({"detail": exc.messages})


class _ConversationMixin:
    permission_classes = [IsAuthenticated, InboxAccess]

    def conversation(self, request, pk) -> Conversation:
        try:
            return selectors.conversation_get(user=request.user, pk=pk)
        except Conversation.DoesNotExist:
            raise Http404 from None

    def answer(self, request, pk) -> Response:
        """The conversation as the user sees it now (an agent who gave it away gets 204)."""
        try:
            conversation = selectors.conversation_get(user=request.user, pk=pk)
        except Conversation.DoesNotExist:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ConversationSerializer(conversation, context={"request": request}).data)


FILTER_PARAMS = [
    OpenApiParameter("view", str, enum=list(selectors.VIEWS), description="all (default), mine, unassigned, team "
                                                                           "(the user's teams)"),
    OpenApiParameter("team", int, description="Only this team's conversations"),
    OpenApiParameter("status", str, enum=["open", "pending", "resolved", "any"],
                     description="Default: open and pending"),
    OpenApiParameter("connection", int, description="Only this WhatsApp number"),
    OpenApiParameter("tag", int, description="Only customers with this tag"),
    OpenApiParameter("q", str, description="Search contact name, phone or message text"),
]


@extend_schema(parameters=FILTER_PARAMS)
class ConversationListApi(_ConversationMixin, generics.ListAPIView):
    """Conversations the user may see, most recent activity first (the inbox page's list)."""

    serializer_class = ConversationSerializer

    def get_queryset(self):
        return selectors.conversation_list(user=self.request.user,
                                           filters=ConversationFilters.from_params(self.request.query_params))


class ConversationDetailApi(_ConversationMixin, APIView):
    @extend_schema(responses=ConversationSerializer)
    def get(self, request, pk: int):
        conversation = self.conversation(request, pk)
        return Response(ConversationSerializer(conversation, context={"request": request}).data)


class ConversationAssignApi(_ConversationMixin, APIView):
    """Give the conversation to an agent and/or a team (``null`` clears; an omitted field stays)."""

    @extend_schema(request=AssignSerializer, responses={200: ConversationSerializer, 204: None})
    def post(self, request, pk: int):
        _require_reply(request.user)
        conversation = self.conversation(request, pk)
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        assignee, team = UNSET, UNSET
        if "assignee" in data:
            assignee = None
            if data["assignee"] is not None:
                assignee = User.objects.filter(pk=data["assignee"], is_active=True).first()
                if assignee is None:
                    raise ValidationError({"assignee": ["No active user with this id."]})
        if "team" in data:
            team = None
            if data["team"] is not None:
                team = Team.objects.filter(pk=data["team"]).first()
                if team is None:
                    raise ValidationError({"team": ["No team with this id."]})
        try:
            conversation_services.conversation_assign(conversation=conversation, assignee=assignee, team=team,
                                                      by=request.user)
        except DjangoValidationError as exc:
            _invalid(exc)
        return self.answer(request, pk)


class ConversationStatusApi(_ConversationMixin, APIView):
    """Open, pending or resolved; reopening a resolved conversation restarts the first-response clock."""

    @extend_schema(request=StatusSerializer, responses={200: ConversationSerializer, 204: None})
    def post(self, request, pk: int):
        _require_reply(request.user)
        conversation = self.conversation(request, pk)
        serializer = StatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            conversation_services.conversation_set_status(conversation=conversation,
                                                          status=serializer.validated_data["status"],
                                                          by=request.user)
        except DjangoValidationError as exc:
            _invalid(exc)
        return self.answer(request, pk)


class ConversationBotPauseApi(_ConversationMixin, APIView):
    """Stop the bot in this conversation until someone resumes it."""

    @extend_schema(request=None, responses=ConversationSerializer)
    def post(self, request, pk: int):
        from ..services.bot import bot_pause

        _require_reply(request.user)
        bot_pause(self.conversation(request, pk), request.user)
        return self.answer(request, pk)


class ConversationBotResumeApi(_ConversationMixin, APIView):
    """The bot answers again from the customer's next message on."""

    @extend_schema(request=None, responses=ConversationSerializer)
    def post(self, request, pk: int):
        from ..services.bot import bot_resume

        _require_reply(request.user)
        bot_resume(self.conversation(request, pk), request.user)
        return self.answer(request, pk)


class ConversationReadApi(_ConversationMixin, APIView):
    """The user has read the conversation: its unread count goes to zero."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, pk: int):
        conversation_services.conversation_mark_read(conversation=self.conversation(request, pk), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _cursor(request, name):
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    if not str(value).isdigit():
        raise ValidationError({name: ["A message id (a positive integer)."]})
    return int(value)


class ConversationMessagesApi(_ConversationMixin, APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        parameters=[
            OpenApiParameter("before", int, description="Messages older than this message id (scrolling up)"),
            OpenApiParameter("after", int, description="Messages newer than this message id (catching up)"),
            OpenApiParameter("limit", int, description="Page size, 1-100 (default 30; ignored with after)"),
        ],
        responses=MessagePageSerializer,
    )
    def get(self, request, pk: int):
        """History oldest-first: the newest page by default, ``before`` for older ones, ``after`` for
        everything since a message (what a client re-reads after a reconnect)."""
        conversation = self.conversation(request, pk)
        before, after = _cursor(request, "before"), _cursor(request, "after")
        limit = _cursor(request, "limit") or selectors.HISTORY_PAGE
        page = selectors.message_history(conversation=conversation, before=before, after=after, limit=limit)
        return Response({"results": MessageSerializer(page.messages, many=True, context={"request": request}).data,
                         "has_more": page.has_more})

    @extend_schema(
        request={"application/json": MessageSendSerializer, "multipart/form-data": MessageSendMultipartSerializer},
        responses={201: MessageSerializer},
    )
    def post(self, request, pk: int):
        """Send a text (JSON) or a file with an optional caption (multipart) as the signed-in user.
        The message is queued at once and delivered in the background; its ticks follow."""
        from ..services.messages import message_send

        _require_reply(request.user)
        conversation = self.conversation(request, pk)
        serializer = MessageSendMultipartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data.get("file")
        message_type = "text"
        if upload is not None:
            try:
                message_type = clean_attachment(upload)
            except DjangoValidationError as exc:
                raise ValidationError({"file": exc.messages}) from None
        text = canned_services.canned_render((serializer.validated_data.get("text") or "").strip(),
                                             conversation=conversation, agent=request.user)
        try:
            message = message_send(conversation, sender_kind=SenderKind.HUMAN, text=text, user=request.user,
                                   type=message_type, media=upload)
        except DjangoValidationError as exc:
            _invalid(exc)
        return Response(MessageSerializer(message, context={"request": request}).data, status=status.HTTP_201_CREATED)


class MessageRetryApi(APIView):
    """Queue a failed outbound message again."""

    permission_classes = [IsAuthenticated, InboxAccess]

    @extend_schema(request=None, responses=MessageSerializer)
    def post(self, request, pk: int):
        from ..services.messages import message_retry

        _require_reply(request.user)
        try:
            message = selectors.message_get(user=request.user, pk=pk)
        except Message.DoesNotExist:
            raise Http404 from None
        try:
            message = message_retry(message)
        except DjangoValidationError as exc:
            _invalid(exc)
        return Response(MessageSerializer(message, context={"request": request}).data)


class CannedAccess(BasePermission):
    """Everyone in the inbox reads them (the composer's "/" list); changing needs canned.manage."""

    message = "Only supervisors and admins may change canned replies."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return selectors.inbox_can_access(request.user)
        return user_can(request.user, "canned.manage")


@extend_schema(parameters=[OpenApiParameter("q", str, description="Search shortcut, title or text")])
class CannedReplyViewSet(viewsets.ModelViewSet):
    """Canned replies: ``/shortcut`` in the composer inserts ``text``; variables
    ({{contact.name}}, {{contact.phone}}, {{agent.name}}) are filled in when the message is sent."""

    serializer_class = CannedReplySerializer
    permission_classes = [IsAuthenticated, CannedAccess]
    pagination_class = None

    def get_queryset(self):
        return selectors.canned_reply_list(q=self.request.query_params.get("q", "").strip()[:100])

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = canned_services.canned_reply_create(
                shortcut=data["shortcut"], text=data["text"], title=data.get("title", ""), by=self.request.user)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None

    def perform_update(self, serializer):
        data = serializer.validated_data
        reply = serializer.instance
        try:
            serializer.instance = canned_services.canned_reply_update(
                reply=reply, shortcut=data.get("shortcut", reply.shortcut), text=data.get("text", reply.text),
                title=data.get("title", reply.title))
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None

    def perform_destroy(self, instance):
        canned_services.canned_reply_delete(reply=instance)
