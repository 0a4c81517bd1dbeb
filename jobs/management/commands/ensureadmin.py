"""Create the first admin account, once."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create a superuser if none exists: DJANGO_SUPERUSER_USERNAME (default 'admin') and "
        "DJANGO_SUPERUSER_PASSWORD, else a random password printed once. Does nothing when a "
        "superuser already exists."
    )

    def handle(self, *args, **options):
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        if users.objects.filter(username=username).exists():
            raise CommandError(f"a non-superuser account {username!r} exists; set DJANGO_SUPERUSER_USERNAME")
        users.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Created admin account {username!r} with password {password!r}. "
                    "It is shown only this once: change it in the admin."
                )
            )
        else:
            self.stdout.write(f"Created admin account {username!r} (password from DJANGO_SUPERUSER_PASSWORD).")
