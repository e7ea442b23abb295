from django.urls import path

from . import views

app_name = "store"

urlpatterns = [
    # Vendas
    path("orders/", views.orders, name="orders"),
    path("orders/new/", views.counter_sale, name="counter-sale"),
    path("orders/products/", views.product_search, name="product-search"),
    path("orders/<int:pk>/", views.order_detail, name="order-detail"),
    path("orders/<int:pk>/row/", views.order_row, name="order-row"),
    path("orders/<int:pk>/advance/", views.order_advance_view, name="order-advance"),
    path("orders/<int:pk>/cancel/", views.order_cancel_view, name="order-cancel"),
    path("orders/<int:pk>/pay/", views.order_pay_view, name="order-pay"),
    path("orders/<int:pk>/place/", views.order_place_view, name="order-place"),
    path("orders/<int:pk>/items/<int:item_pk>/", views.order_item_view, name="order-item"),
    # Produtos
    path("products/", views.products, name="products"),
    path("products/new/", views.product_create, name="product-create"),
    path("products/<int:pk>/", views.product_detail, name="product-detail"),
    path("products/<int:pk>/stock/", views.product_stock, name="product-stock"),
    path("products/categories/", views.categories, name="categories"),
    path("products/categories/<int:pk>/", views.category_edit, name="category-edit"),
    path("products/import/", views.product_import, name="product-import"),
    path("products/export/", views.product_export, name="product-export"),
    # Clientes
    path("customers/", views.customers, name="customers"),
    path("customers/<int:pk>/", views.customer_detail, name="customer-detail"),
    # settings and delivery zones
    path("settings/", views.store_settings, name="settings"),
    path("settings/zones/", views.zone_create, name="zone-create"),
    path("settings/zones/<int:pk>/", views.zone_update, name="zone-update"),
    path("settings/zones/<int:pk>/delete/", views.zone_delete, name="zone-delete"),
]
