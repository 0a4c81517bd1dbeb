"""``createapikey NAME --scopes enqueue,read [--types email,noop] [--max-priority N]``."""

from django.core.management.base import BaseCommand, CommandError

from apikeys.models import ApiKey, parse_scopes


class Command(BaseCommand):
    help = "Create an API key and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="who or what the key is for")
        parser.add_argument("--scopes", required=True, help="comma-separated: read, enqueue, manage")
        parser.add_argument("--types", default="", help="comma-separated job types it may enqueue (default: any)")
        parser.add_argument("--max-priority", type=int, default=None, help="highest priority it may give")

    def handle(self, *args, name, scopes, types, max_priority, **options):
        if not name.strip():
            raise CommandError("the key needs a name")
        try:
            scope_list = parse_scopes(scopes)
        except ValueError as error:
            raise CommandError(str(error)) from None
        job_types = sorted({item.strip() for item in types.split(",") if item.strip()})
        api_key, raw_key = ApiKey.create_key(
            name.strip(), scopes=scope_list, job_types=job_types, max_priority=max_priority
        )
        self.stderr.write(
            f"Created API key {api_key.prefix}… ({name}, scopes {', '.join(scope_list)}). "
            "It is shown once; store it now:"
        )
        self.stdout.write(raw_key)
