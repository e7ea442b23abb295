from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from ..selectors import notification_list, unread_count
from ..services import notification_mark_read
from .serializers import NotificationReadResultSerializer, NotificationReadSerializer, NotificationSerializer


@extend_schema(parameters=[OpenApiParameter("unread", bool, description="Only unread notifications")])
class NotificationListApi(generics.ListAPIView):
    """The signed-in user's own notifications, newest first."""

    serializer_class = NotificationSerializer

    def get_queryset(self):
        unread_only = self.request.query_params.get("unread", "").lower() in ("1", "true", "yes")
        return notification_list(user=self.request.user, unread_only=unread_only)


class NotificationReadApi(APIView):
    """Mark some (``ids``) or all (``all: true``) of the signed-in user's notifications read."""

    @extend_schema(request=NotificationReadSerializer, responses=NotificationReadResultSerializer)
    def post(self, request):
        serializer = NotificationReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        updated = notification_mark_read(
            user=request.user, ids=serializer.validated_data.get("ids"), all=serializer.validated_data["all"]
        )
        return Response({"updated": updated, "unread_count": unread_count(request.user)})
