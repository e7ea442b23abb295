from django.conf import settings


def base_url(host: str) -> str:
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{settings.SITE_URL_SCHEME}://{host}{port}"


def tenant_absolute_url(tenant, path: str = "/") -> str:
    domain = tenant.get_primary_domain()
    return base_url(domain.domain if domain else f"{tenant.schema_name}.{settings.BASE_DOMAIN}") + path


def public_absolute_url(path: str = "/") -> str:
    return base_url(settings.BASE_DOMAIN) + path
