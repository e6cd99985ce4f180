-- ArgoCD health check for aenv.dev/AnalyticsEnvironment.
-- argocd-cm: resource.customizations.health.aenv.dev_AnalyticsEnvironment: <this file>
--
--   no status yet, or a status of an older generation   -> Progressing
--   a workload's rollout paused (a canary step, a blue-green promotion, inconclusive analysis) -> Suspended
--   Stalled=True, phase Failed, a rollout aborted or degraded -> Degraded
--   Ready=True                                          -> Healthy
--   anything else (Reconciling, provisioning, a rollout in progress, deleting) -> Progressing
local hs = {status = "Progressing", message = "Waiting for the operator"}

local function condition(status, kind)
  if status.conditions == nil then return nil end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then return c end
  end
  return nil
end

local status = obj.status
if status == nil then return hs end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

if status.workloads ~= nil then
  for _, w in ipairs(status.workloads) do
    local phase = w.phase
    local rollout = w.rollout
    if rollout ~= nil and rollout.phase ~= nil then phase = rollout.phase end
    if phase == "Paused" then
      hs.status = "Suspended"
      local where = ""
      if w.step ~= nil then where = " at step " .. tostring(w.step) end
      if w.weight ~= nil then where = where .. " (weight " .. tostring(w.weight) .. ")" end
      local reason = ""
      if rollout ~= nil and rollout.pauseReason ~= nil then reason = ": " .. rollout.pauseReason end
      hs.message = "Rollout of " .. w.name .. " paused" .. where .. reason
      return hs
    end
    if phase == "Aborted" or phase == "Degraded" then
      hs.status = "Degraded"
      hs.message = "Rollout of " .. w.name .. " " .. string.lower(phase)
      local wr = condition(status, "WorkloadsReady")
      if wr ~= nil and wr.message ~= nil and wr.message ~= "" then hs.message = hs.message .. ": " .. wr.message end
      return hs
    end
  end
end

local stalled = condition(status, "Stalled")
if (stalled ~= nil and stalled.status == "True") or status.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = "Failed"
  if stalled ~= nil and stalled.message ~= nil and stalled.message ~= "" then hs.message = stalled.message end
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end

if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
  hs.message = ready.message
elseif status.phase ~= nil then
  hs.message = status.phase
end
return hs
