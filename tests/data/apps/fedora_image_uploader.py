# SPDX-License-Identifier: LGPL-2.1-or-later
"""fedora_image_uploader: see make_apps.py and tests/data/SOURCES.md."""
from make_apps import PREFIX, line  # noqa: F401

SRC = "fedora-image-uploader-messages tests/test_schema.py"
TOPIC = PREFIX + "fedora_image_uploader.published.v1."
APP = "fedora-image-uploader"


def messages():
    """fedora_image_uploader_messages.publish: summaries with the app name
    'fedora-image-uploader' (AWS: the number of regions; Azure: the version
    and the image definition; container: the registries, ending in '.';
    GCP: the architecture and the family). No usernames, packages, agent or
    url; the container class's containers are not compared. The bodies
    and summaries are the tests'; the topics append release type,
    subvariant and architecture as the GCP test's does."""
    aws = {"architecture": "x86_64", "compose_id": "Fedora-40-20240501.n.0",
           "image_name": "Fedora-Cloud-AmazonEC2",
           "regions": {"us-east-2": "ami-123", "us-west-1": "ami-321"}, "release": 40,
           "subvariant": "Cloud_Base"}
    yield line(TOPIC + "aws.nightly.Cloud_Base.x86_64", aws, "fedora_image_uploader.aws.v1", SRC,
               f"{APP} published AWS images from compose Fedora-40-20240501.n.0 as "
               "Fedora-Cloud-AmazonEC2 in 2 regions")
    one = dict(aws, regions={"eu-west-1": "ami-456"}, architecture="aarch64")
    yield line(TOPIC + "aws.nightly.Cloud_Base.aarch64", one, "fedora_image_uploader.aws.v1",
               SRC, f"{APP} published AWS images from compose Fedora-40-20240501.n.0 as "
               "Fedora-Cloud-AmazonEC2 in 1 regions")
    azure = {"architecture": "x86_64", "compose_id": "Fedora-40-20240501.n.0",
             "image_definition_name": "Fedora-Cloud-40-x64",
             "image_version_name": "40.20240501.0",
             "image_resource_id": "/CommunityGalleries/Fedora-5e266ba4-2250-406d-adad-"
                                  "5d73860d958f/Images/Fedora-Cloud-40-x64/Versions/40.20240501.0",
             "regions": ["eastus", "eastus2", "centralus"], "release": 40,
             "subvariant": "Cloud_Base"}
    yield line(TOPIC + "azure.nightly.Cloud_Base.x86_64", azure, "fedora_image_uploader.azure.v1",
               SRC, f"{APP} published Azure image from compose Fedora-40-20240501.n.0 as "
               "version 40.20240501.0 to Fedora-Cloud-40-x64")
    container = {"architectures": ["x86_64", "ppc64le", "aarch64", "s390x"],
                 "compose_id": "Fedora-40-20240501.n.0",
                 "registries": ["quay.io/fedora", "registry.fedoraproject.org"],
                 "repository": "fedora", "tags": ["40", "latest"], "release": 40}
    yield line(TOPIC + "container.nightly.fedora", container,
               "fedora_image_uploader.container.v1", SRC,
               f"{APP} published container manifest from compose Fedora-40-20240501.n.0 to "
               "quay.io/fedora, registry.fedoraproject.org.")
    gcp = {"architecture": "x86_64", "compose_id": "Fedora-40-20240414.0", "release": 40,
           "subvariant": "Cloud_Base", "family": "fedora-cloud-40",
           "image_name": "fedora-cloud-40-1-14-x86-64", "image_url": "https://example.com/link",
           "storage_locations": ["us"]}
    yield line(TOPIC + "gcp.rc.Cloud_Base.aarch64", gcp, "fedora_image_uploader.gcp.v1", SRC,
               f"{APP} published the x86_64 image from compose Fedora-40-20240414.0 to the "
               "fedora-cloud-40 family in Google Cloud Platform")
