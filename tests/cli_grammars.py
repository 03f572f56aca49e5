"""The grammars of the CLIs the docs show, from each tool's reference docs or source, cited.

A grammar maps a command path to the flags it accepts, one word per flag:

* ``name``: a switch, no value (``--name``; ``--name=false`` too);
* ``name=``: takes a value (``--name VALUE`` or ``--name=VALUE``);
* ``name?``: the value is optional and only attached (``--name`` or ``--name=VALUE``; pflag's
  ``NoOptDefVal``, argparse's ``nargs='?'``);
* ``name/x``: also spelled ``-x`` (a shorthand).

A path's last word may list aliases: ``"stack new|init|create|setup"``. The flags of a path are all
it accepts except the tool's global flags (``*_GLOBAL``), inherited persistent flags included. A path
with subcommands takes none of its own positional words: the first one must name a subcommand.

Only ``aws`` is built from data at test time: the service models botocore ships (see
:data:`AWS_SOURCE`), the way the AWS CLI itself builds its commands. The others are copied here
from the references below; a command the docs start using that is missing here fails the test as an
unknown subcommand, with this file named, so it is added from the reference rather than guessed.
"""

from __future__ import annotations

# -- pulumi ----------------------------------------------------------------------------------------

PULUMI_SOURCE = (
    "Pulumi CLI v3.260.0 (github.com/pulumi/pulumi at 1b5949891b3cefcb9974752b24a5ecef0acc86c8): the cobra "
    "commands and their Flags()/PersistentFlags() in pkg/cmd/pulumi/{operations,stack,config,state,auth,cancel,"
    "plugin,about,version,whoami}/*.go, the remote-deployment flags of pkg/cmd/pulumi/deployment/remote.go "
    "(ApplyFlags), --override-env of pkg/cmd/pulumi/config/io.go, --output/--json of pkg/util/outputflag; the "
    "same flags as the reference pages https://www.pulumi.com/docs/iac/cli/commands/pulumi_up/ (pulumi_preview, "
    "pulumi_import, pulumi_stack_init, pulumi_config_set, pulumi_state_delete, ...), which are generated from "
    "those definitions"
)
# Root persistent flags (pkg/cmd/pulumi/pulumi.go), and cobra's own --help.
PULUMI_GLOBAL = (
    "color= cwd/C= disable-integrity-checking emoji/e fully-qualify-stack-names/Q help/h logflow logtostderr "
    "memprofilerate= non-interactive otel-traces= profiling= tracing= tracing-header= verbose/v="
)
# `pulumi import --parent` and `--provider` are "name=urn" (import.go: "The name and URN of the parent resource
# in the format name=urn, where name is the variable name of the parent resource").
PULUMI_VALUE_FORMS = {
    ("import", "parent"): (r"[^=\s]+=urn:pulumi:.+", "NAME=URN"),
    ("import", "provider"): (r"[^=\s]+=urn:pulumi:.+", "NAME=URN"),
}
_PULUMI_REMOTE = (
    "remote remote-agent-pool-id= remote-env-secret= remote-env= remote-executor-image-password= "
    "remote-executor-image-username= remote-executor-image= remote-git-auth-access-token= remote-git-auth-password= "
    "remote-git-auth-ssh-private-key-path= remote-git-auth-ssh-private-key= remote-git-auth-username= "
    "remote-git-branch= remote-git-commit= remote-git-repo-dir= remote-inherit-settings remote-pre-run-command= "
    "remote-skip-install-dependencies suppress-stream-logs "
)
PULUMI: dict[str, str] = {
    "about": "json/j output= stack/s= transitive/t",
    "about env": "json/j output= stack/s= transitive/t",
    "cancel": "stack/s= yes/y",
    "config": "config-file= json/j open show-secrets stack/s=",
    "config get": "config-file= json/j open path stack/s=",
    "config remove|rm|delete": "config-file= path stack/s=",
    "config remove-all|rm-all|delete-all": "config-file= path stack/s=",
    "config set": "config-file= path plaintext raw secret stack/s= type=",
    "config set-all": "config-file= json= path plaintext= secret= stack/s=",
    "config refresh": "config-file= force/f stack/s=",
    "config copy|cp": "config-file= dest/d= path stack/s=",
    "config env": "config-file= stack/s=",
    "config env init": "config-file= env= keep-config show-secrets stack/s= yes/y",
    "config env add": "config-file= show-secrets stack/s= yes/y",
    "config env remove|rm|delete": "config-file= show-secrets stack/s= yes/y",
    "config env list|ls": "config-file= json/j output= stack/s=",
    "destroy|down|dn": _PULUMI_REMOTE
    + (
        "client= config-file= config-path config/c= continue-on-error copilot debug/d diff event-log= "
        "exclude-protected exclude/x= exec-agent= exec-kind= ignore-protect json/j message/m= neo output= "
        "override-env= parallel/p= preview-only refresh/r? remove run-program show-config show-full-output "
        "show-replacement-steps show-sames skip-config-validation skip-plugin-pre-install skip-preview/f "
        "stack/s= suppress-outputs suppress-permalink= suppress-progress target-dependents target/t= urns "
        "yes/y"
    ),
    "import": (
        "config-file= debug/d diff event-log= exec-agent= exec-kind= file/f= from= generate-code "
        "generate-resources= json/j message/m= out/o= output= parallel/p= parent= preview-only properties= "
        "protect provider= skip-plugin-pre-install skip-preview stack/s= suppress-outputs suppress-permalink= "
        "suppress-progress urns yes/y"
    ),
    "login": (
        "cloud-url/c= default-org= insecure interactive local/l oidc-expiration= oidc-org= oidc-team= "
        "oidc-token= oidc-user="
    ),
    "logout": "all cloud-url/c= local/l",
    "plugin": "",
    "plugin install": "checksum= exact file/f= parallel= reinstall server=",
    "plugin list|ls": "json/j output= project/p",
    "plugin remove|rm|delete": "all/a yes/y",
    "plugin run": "kind=",
    "preview|pre": _PULUMI_REMOTE
    + (
        "attach-debugger= client= config-file= config-path config/c= copilot debug/d diff event-log= "
        "exclude-dependents exclude/x= exec-agent= exec-kind= expect-no-changes ignore-protect import-file= "
        "json/j message/m= neo neo-task-on-failure output= override-env= parallel/p= policy-pack-config= "
        "policy-pack= refresh/r? replace= run-program save-plan= show-config show-full-output "
        "show-policy-remediations show-reads show-replacement-steps show-sames show-secrets "
        "skip-config-validation skip-plugin-pre-install stack/s= suppress-outputs suppress-permalink= "
        "suppress-progress target-dependents target-replace= target/t= urns"
    ),
    "refresh": _PULUMI_REMOTE
    + (
        "clear-pending-creates client= config-file= config-path config/c= copilot debug/d diff event-log= "
        "exclude-dependents exclude/x= exec-agent= exec-kind= expect-no-changes import-pending-creates= "
        "json/j message/m= neo output= override-env= parallel/p= preview-only run-program "
        "show-replacement-steps show-sames skip-config-validation skip-pending-creates "
        "skip-plugin-pre-install skip-preview/f stack/s= suppress-outputs suppress-permalink= "
        "suppress-progress target-dependents target/t= urns yes/y"
    ),
    "stack": "output= show-ids/i show-name show-secrets show-urns/u stack/s=",
    "stack export": "file= show-secrets stack/s= version=",
    "stack graph": (
        "dependency-edge-color= dot-fragment= ignore-dependency-edges ignore-parent-edges parent-edge-color= "
        "short-node-name stack/s="
    ),
    "stack import": "file= force/f stack/s=",
    "stack new|init|create|setup": (
        "copy-config-from= no-select remote-config secrets-provider= stack/s= teams= yes/y"
    ),
    "stack list|ls": "all/a json/j organization/o= output= project/p= stack/s= tag/t=",
    "stack output": "json/j shell show-secrets stack/s=",
    "stack remove|rm|delete": "force/f preserve-config remove-backups stack/s= yes/y",
    "stack select": "create/c secrets-provider= stack/s=",
    "stack tag": "stack/s=",
    "stack tag get": "stack/s=",
    "stack tag list|ls": "json/j output= stack/s=",
    "stack tag remove|rm|delete": "stack/s=",
    "stack tag set": "stack/s=",
    "stack rename": "stack/s=",
    "stack change-secrets-provider": "stack/s=",
    "stack history|hist": "full-dates json/j output= page-size= page= show-secrets stack/s=",
    "stack history events": "all count= event-type= include-non-activated output= stack/s= summary urn=",
    "stack unselect": "stack/s=",
    "stack get": "output= show-ids/i show-name show-secrets show-urns/u stack/s=",
    "stack drift": "stack/s=",
    "stack schedule": "stack/s=",
    "stack webhook": "stack/s=",
    "stack webhook get": "output= stack/s=",
    "stack webhook delivery": "stack/s=",
    "stack migrate": "force/f secrets-provider= stack/s= target= yes/y",
    "state": "",
    "state remove|rm|delete": "all force stack/s= target-dependents yes/y",
    "state get": "output= show-secrets stack/s=",
    "state edit|update|modify": "stack=",
    "state move|mv": "dest= include-parents source= yes/y",
    "state protect": "all stack/s= yes/y",
    "state rename": "stack/s= yes/y",
    "state repair": "stack/s= yes/y",
    "state taint": "stack/s= yes/y",
    "state upgrade": "yes/y",
    "state unprotect": "all stack/s= yes/y",
    "state untaint": "all stack/s= yes/y",
    "up|update": _PULUMI_REMOTE
    + (
        "attach-debugger= client= config-file= config-path config/c= continue-on-error copilot debug/d diff "
        "event-log= exclude-dependents exclude= exec-agent= exec-kind= expect-no-changes ignore-protect "
        "json/j message/m= neo neo-task-on-failure output= override-env= parallel/p= plan= "
        "policy-pack-config= policy-pack= refresh/r? replace= run-program secrets-provider= show-config "
        "show-full-output show-policy-remediations show-reads show-replacement-steps show-sames show-secrets "
        "skip-config-validation skip-plugin-pre-install skip-preview/f stack/s= strict suppress-outputs "
        "suppress-permalink= suppress-progress target-dependents target-replace= target/t= urns yes/y"
    ),
    "version": "",
    "whoami": "json/j output= verbose/v",
}

# -- kubectl ---------------------------------------------------------------------------------------

KUBECTL_SOURCE = (
    "the kubectl reference, https://kubernetes.io/docs/reference/kubectl/generated/kubectl_<command>/ "
    "(kubernetes/website content/en/docs/reference/kubectl/generated/, pages generated from kubectl's source: "
    "kubectl_get, _describe, _logs, _exec, _port-forward, _scale, _apply and kubectl_create/kubectl_create_job "
    "read at website commits 24143c87, 00cce413, 037ed19f, 0a59de21, 2b3bdc2c, 5f3579c9); `create`, `top pod`, "
    "`top node` and `delete` from the source those pages are generated from, github.com/kubernetes/kubectl at "
    "dee3483a (pkg/cmd/create/create.go, pkg/cmd/top/top_pod.go, top_node.go, pkg/cmd/delete/delete_flags.go, "
    "the helpers of pkg/cmd/util/helpers.go)"
)
# The pages' "Options inherited from parent commands" (k8s.io/cli-runtime's ConfigFlags, --profile,
# --warnings-as-errors, --kuberc, --version), less the flags the docs generator's own dependencies add to that
# list (--storage-driver-*, --cloud-provider-gce-*, --azure-container-registry-config, --default-*-toleration-
# seconds: kubectl does not accept them); plus klog's -v/--v and --vmodule that `kubectl options` lists.
KUBECTL_GLOBAL = (
    "as-group= as-uid= as-user-extra= as= cache-dir= certificate-authority= client-certificate= client-key= "
    "cluster= context= disable-compression help/h insecure-skip-tls-verify kubeconfig= kuberc= match-server-version "
    "namespace/n= password= profile-output= profile= proxy-url= request-timeout= server/s= tls-server-name= token= "
    "user= username= v/v= version? vmodule= warnings-as-errors"
)
_KUBECTL_PRINT = "allow-missing-template-keys output/o= show-managed-fields template="
_KUBECTL_FILES = "filename/f= kustomize/k= recursive/R"
KUBECTL: dict[str, str] = {
    "get": (
        f"{_KUBECTL_PRINT} {_KUBECTL_FILES} all-namespaces/A chunk-size= field-selector= ignore-not-found "
        "label-columns/L= no-headers output-watch-events raw= selector/l= server-print show-kind show-labels "
        "sort-by= subresource= watch-only watch/w"
    ),
    "describe": f"{_KUBECTL_FILES} all-namespaces/A chunk-size= selector/l= show-events",
    "logs": (
        "all-containers all-pods container/c= follow/f ignore-errors insecure-skip-tls-verify-backend limit-bytes= "
        "max-log-requests= pod-running-timeout= prefix previous/p selector/l= since-time= since= tail= timestamps"
    ),
    "exec": "container/c= filename/f= pod-running-timeout= quiet/q stdin/i tty/t",
    "port-forward": "address= pod-running-timeout=",
    "create": (
        f"{_KUBECTL_PRINT} {_KUBECTL_FILES} dry-run? edit field-manager= raw= record save-config selector/l= "
        "validate? windows-line-endings"
    ),
    "create job": f"{_KUBECTL_PRINT} dry-run? field-manager= from= image= save-config validate?",
    "top": "",
    "top pod|pods|po": (
        "all-namespaces/A containers field-selector= no-headers selector/l= show-swap sort-by= sum use-protocol-buffers"
    ),
    "top node|nodes|no": "no-headers selector/l= show-capacity show-swap sort-by= use-protocol-buffers",
    "scale": (
        f"{_KUBECTL_PRINT} {_KUBECTL_FILES} all current-replicas= dry-run? replicas= resource-version= selector/l= "
        "timeout="
    ),
    "apply": (
        f"{_KUBECTL_PRINT} {_KUBECTL_FILES} all cascade? dry-run? field-manager= force force-conflicts grace-period= "
        "openapi-patch overwrite prune prune-allowlist= selector/l= server-side subresource= timeout= validate? wait"
    ),
    "delete": (
        f"{_KUBECTL_FILES} all all-namespaces/A cascade? dry-run? field-selector= force grace-period= "
        "ignore-not-found interactive/i now output/o= raw= selector/l= timeout= wait"
    ),
}

# The Argo Rollouts kubectl plugin (`kubectl argo rollouts ...`, the kubectl-argo-rollouts binary). kubectl
# runs a plugin only when its name comes first (`kubectl argo rollouts -n x ...`, not `kubectl -n x argo ...`).
ARGO_ROLLOUTS_SOURCE = (
    "Argo Rollouts v1.8.4 (the controller the pinned argo-rollouts chart 2.40.0 runs is v1.8), "
    "github.com/argoproj/argo-rollouts at 55e89ddc: docs/generated/kubectl-argo-rollouts/*.md, the plugin's "
    "reference (argo-rollouts.readthedocs.io/en/stable/generated/kubectl-argo-rollouts/kubectl-argo-rollouts/), "
    "and the aliases of pkg/kubectl-argo-rollouts/cmd/*/*.go"
)
ARGO_ROLLOUTS_GLOBAL = (
    "as-group= as-uid= as= cache-dir= certificate-authority= client-certificate= client-key= cluster= "
    "context= disable-compression help/h insecure-skip-tls-verify kloglevel/v= kubeconfig= loglevel= "
    "namespace/n= request-timeout= server/s= tls-server-name= token= user="
)
ARGO_ROLLOUTS: dict[str, str] = {
    "abort": "help/h",
    "completion": "help/h",
    "create": "filename/f= help/h no-color watch/w",
    "create analysisrun|ar": "argument/a= from-file= from= generate-name= global help/h instance-id= name=",
    "dashboard": "help/h port/p= root-path=",
    "get": "help/h",
    "get experiment|exp|experiments": "help/h no-color watch/w",
    "get rollout|ro|rollouts": "help/h no-color timeout-seconds= watch/w",
    "lint": "filename/f= help/h",
    "list": "help/h",
    "list experiments|exp|experiment": "all-namespaces/A help/h",
    "list rollouts|ro|rollout": "all-namespaces/A help/h name= timestamps watch/w",
    "notifications": (
        "as-group= as-uid= as= certificate-authority= client-certificate= client-key= cluster= config-map= "
        "context= disable-compression help/h insecure-skip-tls-verify kubeconfig= namespace/n= password= "
        "proxy-url= request-timeout= secret= server= tls-server-name= token= user= username="
    ),
    "notifications template": "help/h",
    "notifications template get": "help/h output/o=",
    "notifications template notify": "help/h recipient=",
    "notifications trigger": "help/h",
    "notifications trigger get": "help/h output/o=",
    "notifications trigger run": "help/h",
    "pause": "help/h",
    "promote": "full help/h",
    "restart": "help/h in/i=",
    "retry": "help/h",
    "retry experiment|exp|experiments": "help/h",
    "retry rollout|ro|rollouts": "help/h",
    "set": "help/h",
    "set image": "help/h",
    "status": "help/h timeout/t= watch/w",
    "terminate": "help/h",
    "terminate analysisrun|ar|analysisruns": "help/h",
    "terminate experiment|exp|experiments": "help/h",
    "undo": "help/h to-revision=",
    "version": "help/h short",
}

# -- aws -------------------------------------------------------------------------------------------

AWS_SOURCE = (
    "AWS CLI v2 (github.com/aws/aws-cli at tag 2.36.7): a service's operations and their options are built from "
    "botocore's service models (awscli/clidriver.py: ServiceCommand and ServiceOperation name an operation "
    "xform_name(OperationName, '-') and each input member --xform_name(Member, '-'); ARG_TYPES makes a boolean "
    "member a BooleanArgument, which also adds --no-<name> and takes no value, awscli/arguments.py), plus the "
    "options every operation gets (--cli-input-json, --cli-input-yaml: awscli/customizations/cliinput.py; "
    "--generate-cli-skeleton [input|yaml-input|output]: generatecliskeleton.py; --starting-token, --page-size, "
    "--max-items for a paginated operation: paginate.py), the renames of awscli/customizations/argrename.py for "
    "the services used, and the global options of awscli/data/cli.json. The models are those of the botocore the "
    "tests run with (.venv: botocore/data/<service>/<version>/service-2.json), not a hand-written list. `s3api` "
    "is the s3 model (renamed by awscli/customizations/s3/s3.py); `aws s3 ...` and `aws eks update-kubeconfig` "
    "are the hand-written commands below."
)
# awscli/data/cli.json "options" at 2.36.7 and their "choices" (the CLI adds help, read as a word, not a flag)
AWS_GLOBAL = (
    "ca-bundle= cli-auto-prompt cli-binary-format= cli-connect-timeout= cli-error-format= "
    "cli-read-timeout= color= debug endpoint-url= no-cli-auto-prompt no-cli-pager no-paginate "
    "no-sign-request no-verify-ssl output= profile= query= region= version"
)
AWS_GLOBAL_CHOICES = {
    "output": ("json", "text", "table", "yaml", "yaml-stream", "off"),
    "color": ("on", "off", "auto"),
    "cli-binary-format": ("base64", "raw-in-base64-out"),
    "cli-error-format": ("legacy", "json", "yaml", "text", "table", "enhanced"),
}
# Commands written by hand in the AWS CLI, with their ARG_TABLE: awscli/customizations/s3/subcommands.py (sync
# adds --delete, --exact-timestamps, --size-only from customizations/s3/syncstrategy/),
# customizations/eks/update_kubeconfig.py and get_token.py.
AWS_CUSTOM: dict[str, str] = {
    "eks get-token": "cluster-id= cluster-name= role-arn=",
    "eks update-kubeconfig": (
        "alias= assume-role-arn= dry-run kubeconfig= name= proxy-url= role-arn= user-alias= verbose"
    ),
    "s3 cp": (
        "acl= cache-control= case-conflict= checksum-algorithm= checksum-mode= content-disposition= "
        "content-encoding= content-language= content-type= copy-props= dryrun exclude= expected-size= "
        "expires= follow-symlinks force-glacier-transfer grants= ignore-glacier-warnings include= "
        "metadata-directive= metadata= no-follow-symlinks no-guess-mime-type no-overwrite no-progress "
        "only-show-errors page-size= progress-frequency= progress-multiline quiet recursive request-payer? "
        "source-region= sse-c-copy-source-key= sse-c-copy-source? sse-c-key= sse-c? sse-kms-key-id= sse? "
        "storage-class= website-redirect="
    ),
    "s3 ls": "bucket-name-prefix= bucket-region= human-readable page-size= recursive request-payer? summarize",
    "s3 mb": "tags=",
    "s3 mv": (
        "acl= cache-control= case-conflict= checksum-algorithm= checksum-mode= content-disposition= "
        "content-encoding= content-language= content-type= copy-props= dryrun exclude= expires= "
        "follow-symlinks force-glacier-transfer grants= ignore-glacier-warnings include= metadata-directive= "
        "metadata= no-follow-symlinks no-guess-mime-type no-overwrite no-progress only-show-errors page-size= "
        "progress-frequency= progress-multiline quiet recursive request-payer? source-region= "
        "sse-c-copy-source-key= sse-c-copy-source? sse-c-key= sse-c? sse-kms-key-id= sse? storage-class= "
        "validate-same-s3-paths website-redirect="
    ),
    "s3 presign": "expires-in=",
    "s3 rb": "force",
    "s3 rm": "dryrun exclude= include= only-show-errors page-size= quiet recursive request-payer?",
    "s3 sync": (
        "delete exact-timestamps size-only acl= cache-control= case-conflict= checksum-algorithm= "
        "checksum-mode= content-disposition= content-encoding= content-language= content-type= copy-props= "
        "dryrun exclude= expires= follow-symlinks force-glacier-transfer grants= ignore-glacier-warnings "
        "include= metadata-directive= metadata= no-follow-symlinks no-guess-mime-type no-overwrite "
        "no-progress only-show-errors page-size= progress-frequency= progress-multiline quiet request-payer? "
        "source-region= sse-c-copy-source-key= sse-c-copy-source? sse-c-key= sse-c? sse-kms-key-id= sse? "
        "storage-class= website-redirect="
    ),
    "s3 website": "error-document= index-document=",
}
# awscli/customizations/argrename.py at 2.36.7: '<service>.<operation or *>.<option>' -> its new name
AWS_RENAMES = {
    "ec2.create-image.no-no-reboot": "reboot",
    "ec2.*.no-egress": "ingress",
    "ec2.*.no-disable-api-termination": "enable-api-termination",
    "swf.register-activity-type.version": "activity-version",
    "swf.register-workflow-type.version": "workflow-version",
    "datapipeline.*.query": "objects-query",
    "datapipeline.get-pipeline-definition.version": "pipeline-version",
    "emr.*.job-flow-ids": "cluster-ids",
    "emr.*.job-flow-id": "cluster-id",
    "cloudsearchdomain.search.query": "search-query",
    "cloudsearchdomain.suggest.query": "suggest-query",
    "sns.subscribe.endpoint": "notification-endpoint",
    "deploy.*.s-3-location": "s3-location",
    "deploy.*.ec-2-tag-filters": "ec2-tag-filters",
    "codepipeline.get-pipeline.version": "pipeline-version",
    "codepipeline.create-custom-action-type.version": "action-version",
    "codepipeline.delete-custom-action-type.version": "action-version",
    "kinesisanalytics.add-application-output.output": "application-output",
    "kinesisanalyticsv2.add-application-output.output": "application-output",
    "route53.delete-traffic-policy.version": "traffic-policy-version",
    "route53.get-traffic-policy.version": "traffic-policy-version",
    "route53.update-traffic-policy-comment.version": "traffic-policy-version",
    "gamelift.create-build.version": "build-version",
    "gamelift.update-build.version": "build-version",
    "gamelift.create-script.version": "script-version",
    "gamelift.update-script.version": "script-version",
    "route53domains.view-billing.start": "start-time",
    "route53domains.view-billing.end": "end-time",
    "apigateway.create-rest-api.version": "api-version",
    "apigatewayv2.create-api.version": "api-version",
    "apigatewayv2.update-api.version": "api-version",
    "pinpoint.get-campaign-version.version": "campaign-version",
    "pinpoint.get-segment-version.version": "segment-version",
    "pinpoint.delete-email-template.version": "template-version",
    "pinpoint.delete-in-app-template.version": "template-version",
    "pinpoint.delete-push-template.version": "template-version",
    "pinpoint.delete-sms-template.version": "template-version",
    "pinpoint.delete-voice-template.version": "template-version",
    "pinpoint.get-email-template.version": "template-version",
    "pinpoint.get-in-app-template.version": "template-version",
    "pinpoint.get-push-template.version": "template-version",
    "pinpoint.get-sms-template.version": "template-version",
    "pinpoint.get-voice-template.version": "template-version",
    "pinpoint.update-email-template.version": "template-version",
    "pinpoint.update-in-app-template.version": "template-version",
    "pinpoint.update-push-template.version": "template-version",
    "pinpoint.update-sms-template.version": "template-version",
    "pinpoint.update-voice-template.version": "template-version",
    "stepfunctions.send-task-success.output": "task-output",
    "clouddirectory.publish-schema.version": "schema-version",
    "mturk.list-qualification-types.query": "types-query",
    "workdocs.create-notification-subscription.endpoint": "notification-endpoint",
    "workdocs.describe-users.query": "user-query",
    "lex-models.delete-bot.version": "bot-version",
    "lex-models.delete-intent.version": "intent-version",
    "lex-models.delete-slot-type.version": "slot-type-version",
    "lex-models.get-intent.version": "intent-version",
    "lex-models.get-slot-type.version": "slot-type-version",
    "lex-models.delete-bot-version.version": "bot-version",
    "lex-models.delete-intent-version.version": "intent-version",
    "lex-models.delete-slot-type-version.version": "slot-type-version",
    "lex-models.get-export.version": "resource-version",
    "license-manager.get-grant.version": "grant-version",
    "license-manager.delete-grant.version": "grant-version",
    "license-manager.get-license.version": "license-version",
    "rekognition.create-stream-processor.output": "stream-processor-output",
    "eks.create-cluster.version": "kubernetes-version",
    "eks.update-cluster-version.version": "kubernetes-version",
    "eks.create-nodegroup.version": "kubernetes-version",
    "eks.update-nodegroup-version.version": "kubernetes-version",
    "eks.update-cluster-components-version.version": "kubernetes-version",
    "schemas.*.version": "schema-version",
    "sagemaker.delete-image-version.version": "version-number",
    "sagemaker.describe-image-version.version": "version-number",
    "sagemaker.list-aliases.version": "version-number",
    "sagemaker.update-image-version.version": "version-number",
    "iotwireless.*.lo-ra-wan": "lorawan",
    "codepipeline.get-action-type.version": "action-version",
    "ecs.*.no-enable-execute-command": "disable-execute-command",
    "ecs.execute-command.no-interactive": "non-interactive",
    "controltower.create-landing-zone.version": "landing-zone-version",
    "controltower.update-landing-zone.version": "landing-zone-version",
    "glue.get-unfiltered-partition-metadata.region": "resource-region",
    "glue.get-unfiltered-partitions-metadata.region": "resource-region",
    "glue.get-unfiltered-table-metadata.region": "resource-region",
    "agent-toolkit.*.name": "skill-name",
    "agent-toolkit.search-skills.query": "search-query",
}
# HIDDEN_ALIASES of the same file: a second, undocumented name for the option
AWS_ALIASES = {
    "mgn.*.replication-servers-security-groups-ids": "replication-servers-security-groups-i-ds",
    "mgn.*.source-server-ids": "source-server-i-ds",
    "mgn.*.replication-configuration-template-ids": "replication-configuration-template-i-ds",
    "elasticache.create-replication-group.preferred-cache-cluster-azs": "preferred-cache-cluster-a-zs",
}
