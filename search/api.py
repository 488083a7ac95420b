"""GET /api/v1/search/?q=…: the palette's results as JSON (search.engine does the work)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.schema import errors
from core.api.support import check_query_parameters

from .engine import DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_LENGTH, TYPES, search


class SearchQuerySerializer(serializers.Serializer):
    """The query string. `q` is stripped: blank (or only whitespace) is refused, not a search for everything."""

    q = serializers.CharField(max_length=MAX_QUERY_LENGTH, help_text=(
        "Words (PostgreSQL: a web-search query: \"quoted phrase\", or, -word); an audit row's id (#123), "
        "leaf index (leaf 65) or leaf hash (64 hex digits, or a prefix of at least 8)."))
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    type = serializers.ChoiceField(choices=TYPES, required=False, help_text="Only results of this type.")


class SearchResultSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=TYPES)
    id = serializers.CharField(help_text="A UUID, or an audit row's integer id (as text) for an event.")
    title = serializers.CharField()
    url = serializers.CharField(help_text="The page of this result on this site.")
    snippet = serializers.CharField(help_text="Plain text (never HTML): an excerpt around the match.")


class SearchResultsSerializer(serializers.Serializer):
    results = SearchResultSerializer(many=True)


class SearchView(APIView):
    """What the caller may see that matches `q`, best first: hidden and deleted things are simply absent.
    A read: no audit row."""

    filter_backends = ()  # check_query_parameters reads them: none here
    extra_query_params = tuple(SearchQuerySerializer().fields)

    @extend_schema(
        operation_id="search",
        tags=["search"],
        summary="Search projects, decisions, entities, people and audit rows",
        parameters=[
            OpenApiParameter("q", str, required=True, description=SearchQuerySerializer().fields["q"].help_text),
            OpenApiParameter("limit", int, description=f"1–{MAX_LIMIT} (default {DEFAULT_LIMIT})"),
            OpenApiParameter("type", str, enum=list(TYPES)),
        ],
        responses={200: SearchResultsSerializer, **errors(400)},
    )
    def get(self, request):
        check_query_parameters(request, self, frozenset())
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        kind = query.validated_data.get("type")
        results = search(request.user, query.validated_data["q"], types=(kind,) if kind else TYPES,
                         limit=query.validated_data["limit"])
        return Response({"results": [result.as_dict() for result in results]})
