from django.conf import settings
from rest_framework import serializers

from ..models import User


class MeSerializer(serializers.ModelSerializer):
    tenant = serializers.SerializerMethodField()
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)
    teams = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = User
        fields = ["id", "email", "name", "role", "language", "theme", "teams", "tenant"]
        read_only_fields = ["id", "email", "role", "teams", "tenant"]

    def get_tenant(self, obj) -> dict:
        tenant = self.context["request"].tenant
        return {"name": tenant.name, "slug": tenant.schema_name, "status": tenant.status}
