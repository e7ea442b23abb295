"""AI API: assistants (CRUD), model providers (CRUD + test; the key is write-only), the decision
log (list with filters, detail; only decisions of conversations the user may see), and usage.
Bad values answer 400 with a message per field; another company's ids answer 404."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import user_can
from apps.inbox.selectors import inbox_can_access

from ..forms import ActivityFilterForm
from ..models import Assistant, Decision, ModelProvider
from ..services import assistants as services
from ..services import providers as provider_services
from .serializers import (AssistantSerializer, DecisionSerializer, ProviderSerializer, ProviderTestSerializer,
                          UsageSerializer)

MANAGE = "assistants.manage"


class ManagesAssistants(BasePermission):
    message = "Only admins and supervisors manage the AI assistants."

    def has_permission(self, request, view):
        return user_can(request.user, MANAGE)


class SeesDecisions(BasePermission):
    message = "Only staff who manage assistants or work in the inbox see AI decisions."

    def has_permission(self, request, view):
        return user_can(request.user, MANAGE) or inbox_can_access(request.user)


def _invalid(exc: DjangoValidationError):
    if hasattr(exc, "error_dict"):
        raise ValidationError(exc.message_dict) from None
    raise ValidationError({"detail": exc.messages}) from None


class AssistantViewSet(viewsets.ModelViewSet):
    serializer_class = AssistantSerializer
    permission_classes = [IsAuthenticated, ManagesAssistants]
    pagination_class = None

    def get_queryset(self):
        return Assistant.objects.select_related("provider").prefetch_related("documents").order_by("-is_default",
                                                                                                   "name")

    def _fields(self, data: dict) -> tuple[dict, list | None, bool | None]:
        data = dict(data)
        documents = data.pop("documents", None)
        is_default = data.pop("is_default", None)
        return data, documents, is_default

    def perform_create(self, serializer):
        fields, documents, is_default = self._fields(serializer.validated_data)
        try:
            serializer.instance = services.assistant_create(documents=documents, is_default=bool(is_default),
                                                            **fields)
        except DjangoValidationError as exc:
            _invalid(exc)

    def perform_update(self, serializer):
        fields, documents, is_default = self._fields(serializer.validated_data)
        try:
            assistant = services.assistant_update(assistant=serializer.instance, documents=documents, **fields)
            if is_default:
                assistant = services.assistant_make_default(assistant=assistant)
        except DjangoValidationError as exc:
            _invalid(exc)
        serializer.instance = Assistant.objects.get(pk=assistant.pk)

    def perform_destroy(self, instance):
        services.assistant_delete(assistant=instance)


@method_decorator(sensitive_post_parameters("api_key"), name="dispatch")
class ProviderViewSet(viewsets.ModelViewSet):
    serializer_class = ProviderSerializer
    permission_classes = [IsAuthenticated, ManagesAssistants]
    pagination_class = None

    def get_queryset(self):
        return ModelProvider.objects.all()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("remove_key", None)
        try:
            serializer.instance = provider_services.provider_create(**data)
        except DjangoValidationError as exc:
            _invalid(exc)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        try:
            serializer.instance = provider_services.provider_update(
                provider=serializer.instance, api_key=data.pop("api_key", None),
                remove_key=data.pop("remove_key", False), is_default=data.pop("is_default", None), **data)
        except DjangoValidationError as exc:
            _invalid(exc)

    def perform_destroy(self, instance):
        provider_services.provider_delete(provider=instance)

    @extend_schema(request=None, responses=ProviderTestSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """One real, tiny call to the model; the outcome is also stored on the provider."""
        result = provider_services.provider_test(provider=self.get_object())
        return Response(ProviderTestSerializer(result).data)


DECISION_FILTERS = [
    OpenApiParameter("action", str, description="answered, handed_off, tool, error, skipped"),
    OpenApiParameter("assistant", int),
    OpenApiParameter("date_from", str, description="YYYY-MM-DD, in the company's time zone"),
    OpenApiParameter("date_to", str, description="YYYY-MM-DD, inclusive"),
    OpenApiParameter("conversation", int),
    OpenApiParameter("q", str, description="Customer name or phone"),
]


@extend_schema(parameters=DECISION_FILTERS)
class DecisionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """What the assistant saw and did in each turn, newest first."""

    serializer_class = DecisionSerializer
    permission_classes = [IsAuthenticated, SeesDecisions]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user, no tenant
            return Decision.objects.none()
        zone = services.tenant_zone(self.request.tenant)
        if self.action == "list":
            form = ActivityFilterForm(self.request.query_params)
            if not form.is_valid():
                raise ValidationError({field: [e["message"] for e in errors]
                                       for field, errors in form.errors.get_json_data().items()})
            return services.decision_list(user=self.request.user, filters=form.filters(), tz=zone)
        return services.decision_visible(self.request.user).select_related("conversation__contact", "assistant")

    def get_object(self):
        try:
            return self.get_queryset().get(pk=int(self.kwargs["pk"]))
        except (Decision.DoesNotExist, ValueError):
            raise Http404 from None


class UsageApi(APIView):
    """This month's AI usage against the plan's limit, and the last 30 days."""

    permission_classes = [IsAuthenticated, ManagesAssistants]

    @extend_schema(responses=UsageSerializer)
    def get(self, request):
        tenant = request.tenant
        month = services.usage_month(tenant=tenant)
        data = {"month": {"month": month.month, "turns": month.turns, "limit": month.limit,
                          "remaining": month.remaining, "prompt_tokens": month.prompt_tokens,
                          "completion_tokens": month.completion_tokens, "cost": month.cost,
                          "handoffs": month.handoffs},
                "days": services.usage_days(tenant=tenant)}
        return Response(UsageSerializer(data).data, status=status.HTTP_200_OK)
