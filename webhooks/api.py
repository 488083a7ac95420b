"""/api/v1/projects/{id}/webhooks/ and /api/v1/webhooks/{id}/: parse → service → serialize."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import errors
from core.api.support import LimitOffsetPagination, parse_uuid, visible_project_or_404

from .models import WebhookSubscription
from .serializers import (
    RedeliverSerializer,
    WebhookDeliverySerializer,
    WebhookSubscriptionCreatedSerializer,
    WebhookSubscriptionSerializer,
    WebhookWriteSerializer,
)
from .services import (
    check_manage,
    subscription_create,
    subscription_delete,
    subscription_redeliver,
    subscription_update,
    visible_subscriptions,
)


class ProjectWebhooksView(APIView):
    """A project's webhook subscriptions; its owner and operators only (others who see it: 403)."""

    @extend_schema(summary="List a project's webhook subscriptions", tags=["webhooks"],
                   responses={200: WebhookSubscriptionSerializer(many=True), **errors(403, 404)})
    def get(self, request, project_id):
        project = visible_project_or_404(request.user, project_id)
        check_manage(project, request.user, "webhook_list")
        subscriptions = WebhookSubscription.objects.filter(project=project)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(subscriptions, request, view=self)
        return paginator.get_paginated_response(WebhookSubscriptionSerializer(page, many=True).data)

    @extend_schema(summary="Subscribe a URL to the project's audit rows", tags=["webhooks"],
                   description="Rows sealed from now on that match the filters are POSTed to `url`, signed per "
                   "Standard Webhooks with `secret`, which this response shows once.",
                   request=WebhookWriteSerializer,
                   responses={201: WebhookSubscriptionCreatedSerializer, **errors(400, 403, 404)})
    def post(self, request, project_id):
        project = visible_project_or_404(request.user, project_id)
        payload = WebhookWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        subscription = subscription_create(project=project, actor=request.user, **payload.validated_data)
        return Response(WebhookSubscriptionCreatedSerializer(subscription).data, status=status.HTTP_201_CREATED)


class WebhookViewSet(viewsets.GenericViewSet):
    serializer_class = WebhookSubscriptionSerializer
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the types, no user
            return WebhookSubscription.objects.none()
        return visible_subscriptions(self.request.user)

    def get_object(self):
        key = parse_uuid(self.kwargs["pk"])
        subscription = self.get_queryset().filter(pk=key).first() if key else None
        if subscription is None:
            raise Http404("No such webhook.")
        return subscription

    @extend_schema(summary="One webhook subscription", tags=["webhooks"],
                   responses={200: WebhookSubscriptionSerializer, **errors(404)})
    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(summary="Edit, pause or resume a webhook subscription", tags=["webhooks"],
                   request=WebhookWriteSerializer, responses={200: WebhookSubscriptionSerializer, **errors(400, 403, 404)})
    def partial_update(self, request, pk=None):
        subscription = self.get_object()
        payload = WebhookWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        subscription = subscription_update(subscription=subscription, actor=request.user, **payload.validated_data)
        return Response(self.get_serializer(subscription).data)

    @extend_schema(summary="Delete a webhook subscription", tags=["webhooks"], responses={204: None, **errors(403, 404)})
    def destroy(self, request, pk=None):
        subscription_delete(subscription=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Delivery attempts, newest first", tags=["webhooks"],
                   responses={200: WebhookDeliverySerializer(many=True), **errors(404)})
    @action(detail=True, methods=["get"], pagination_class=LimitOffsetPagination)
    def deliveries(self, request, pk=None):
        attempts = self.get_object().deliveries.all()
        page = self.paginate_queryset(attempts)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(summary="Deliver again (and resume a paused subscription)", tags=["webhooks"],
                   request=RedeliverSerializer, responses={202: WebhookSubscriptionSerializer, **errors(400, 403, 404)})
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        payload = RedeliverSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        subscription = subscription_redeliver(subscription=self.get_object(), actor=request.user,
                                              from_leaf=payload.validated_data.get("from_leaf"))
        return Response(self.get_serializer(subscription).data, status=status.HTTP_202_ACCEPTED)
