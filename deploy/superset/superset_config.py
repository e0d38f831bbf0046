# Superset configuration for shopstream (deploy/superset/superset.sh sets
# SUPERSET_CONFIG_PATH to this file). The metadata database is SQLite under
# SUPERSET_HOME; the warehouse connection is the provisioned database of the
# bundle (bundle/databases/shopstream.yaml).
import os

_home = os.environ.get("SUPERSET_HOME", os.path.join(os.getcwd(), "data", "superset"))

# Sessions and stored secrets are signed/encrypted with this key: set
# SUPERSET_SECRET_KEY in production; superset.sh makes a random one per home.
SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(_home, "superset.db")

# No internet on these machines: no telemetry, no map tiles, no examples.
SCARF_ANALYTICS = False
WTF_CSRF_ENABLED = True
FEATURE_FLAGS = {"DASHBOARD_NATIVE_FILTERS": True}
# A warehouse that is slow to answer must not hang a chart forever.
SQLLAB_TIMEOUT = 300
SUPERSET_WEBSERVER_TIMEOUT = 300
