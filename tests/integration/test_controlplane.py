"""The local control plane is a real one: nodes, scheduling, controllers, garbage collection."""

from kubernetes import client

from aenv.local.processes import wait_for

from .kube import DEADLINE, Kube


def test_nodes_are_ready(kube: Kube) -> None:
    def two_ready() -> bool:
        nodes = kube.core.list_node().items
        ready = [n for n in nodes if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)]
        return len(ready) >= 2

    wait_for(two_ready, DEADLINE, "two Ready nodes")


def test_deployment_gets_running_ready_pods(kube: Kube, namespace: str) -> None:
    labels = {"app": "web"}
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1DeploymentSpec(
            replicas=3,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx:1.27")]),
            ),
        ),
    )
    kube.apps.create_namespaced_deployment(namespace, deployment)
    wait_for(lambda: kube.apps.read_namespaced_deployment(name="web", namespace=namespace).status.ready_replicas == 3,
             DEADLINE, "3 ready replicas")
    pods = kube.core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 3
    assert all(p.status.phase == "Running" and p.spec.node_name for p in pods)

    # kube-controller-manager's garbage collector removes the ReplicaSet with its Deployment.
    kube.apps.delete_namespaced_deployment("web", namespace, propagation_policy="Background")
    wait_for(lambda: not kube.apps.list_namespaced_replica_set(namespace).items, DEADLINE,
             "the ReplicaSet to be garbage-collected")
