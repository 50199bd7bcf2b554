from django import forms
from django.contrib.auth.forms import UserCreationForm

from .models import Profile


class SignupForm(UserCreationForm):
    role = forms.ChoiceField(choices=Profile.ROLE_CHOICES, initial="student")
