from rest_framework import generics
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from ..authentication import TenantTokenObtainPairSerializer, TenantTokenRefreshSerializer
from ..services import user_update_preferences
from .serializers import MeSerializer


class TokenObtainApi(TokenObtainPairView):
    """Email + password -> access and refresh tokens valid on this company's domain only."""

    serializer_class = TenantTokenObtainPairSerializer


class TokenRefreshApi(TokenRefreshView):
    """Rotates the refresh token; the old one is blacklisted."""

    serializer_class = TenantTokenRefreshSerializer


class MeApi(generics.RetrieveUpdateAPIView):
    serializer_class = MeSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.request.user

    def perform_update(self, serializer):
        data = serializer.validated_data
        if "name" in data:
            serializer.instance.name = data["name"]
            serializer.instance.save(update_fields=["name"])
        user_update_preferences(user=serializer.instance, language=data.get("language"), theme=data.get("theme"))
