"""messaging's models live in its feature packages; the channel accounts they use are in accounts/."""

# Feature modules that define models of this app.
from messaging.callbacks.models import *  # noqa: F403
from messaging.channels.models import *  # noqa: F403
from messaging.channels.moment_models import *  # noqa: F403
from messaging.content.models import *  # noqa: F403
from messaging.inbox.models import *  # noqa: F403
from messaging.miniprogram.models import *  # noqa: F403
from messaging.template_library.models import *  # noqa: F403
