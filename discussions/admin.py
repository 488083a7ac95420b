from django.contrib import admin, messages

from core.errors import ActionForbidden
from core.web.admin import ReadOnlyAdminMixin

from .models import Comment
from .services import comment_set_hidden


@admin.register(Comment)
class CommentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Comments are written on the pages and the API by their authors; operators hide them here (and
    show them again), through discussions.services like every surface."""

    list_display = ("created_at", "author", "project", "decision", "excerpt", "hidden", "edited_at")
    list_filter = ("hidden", "created_at")
    search_fields = ("body", "author__email", "project__name", "decision__title")
    list_select_related = ("author", "project", "decision")
    actions = ["hide_selected", "show_selected"]

    @admin.display(description="Text")
    def excerpt(self, comment) -> str:
        return comment.body if len(comment.body) <= 80 else comment.body[:79] + "…"

    def _set_hidden(self, request, queryset, hidden: bool) -> None:
        changed = 0
        for comment in queryset.select_related("project"):
            try:
                comment_set_hidden(comment=comment, actor=request.user, hidden=hidden)
            except ActionForbidden as refused:
                self.message_user(request, refused.message, messages.ERROR)
                return
            changed += 1
        self.message_user(request, f"{changed} comment(s) {'hidden' if hidden else 'shown again'}.", messages.SUCCESS)

    @admin.action(description="Hide the selected comments (operators still see them)")
    def hide_selected(self, request, queryset):
        self._set_hidden(request, queryset, True)

    @admin.action(description="Show the selected comments again")
    def show_selected(self, request, queryset):
        self._set_hidden(request, queryset, False)
