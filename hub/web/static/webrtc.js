// Live video of one camera over WebRTC: the page offers to receive video only, waits for its ICE
// candidates (no trickle: the hub answers one complete offer), posts the offer and applies the answer.

import {api, seg} from './api.js';

const GATHER_TIMEOUT_MS = 4000;

function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== 'complete') return;
      pc.removeEventListener('icegatheringstatechange', done);
      clearTimeout(timer);
      resolve();
    };
    // Without network interfaces gathering can hang: go with the candidates there are.
    const timer = setTimeout(() => {
      pc.removeEventListener('icegatheringstatechange', done);
      resolve();
    }, GATHER_TIMEOUT_MS);
    pc.addEventListener('icegatheringstatechange', done);
  });
}

/**
 * Start a camera's live view into `video`; onState('connecting'|'live'|'ended', detail): 'ended' once a
 * session that ran stops (the hub hangs up after a while, the camera went away).
 * Returns the RTCPeerConnection (close it when leaving) or throws.
 */
export async function startLive(cameraId, video, onState = () => {}) {
  const pc = new RTCPeerConnection({iceServers: []});
  try {
    pc.addTransceiver('video', {direction: 'recvonly'});
    pc.addEventListener('track', (event) => {
      event.track.addEventListener('ended', () => onState('ended'));
      video.srcObject = event.streams[0] || new MediaStream([event.track]);
      video.play().catch(() => {});
    });
    pc.addEventListener('connectionstatechange', () => {
      const s = pc.connectionState;
      if (s === 'connected') onState('live');
      else if (s === 'disconnected') onState('connecting');   // may recover by itself
      else if (s === 'failed' || s === 'closed') onState('ended');
    });
    onState('connecting');
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await gathered(pc);
    if (pc.signalingState === 'closed') return pc;
    // Read after gathering: it then holds every candidate (and what a test filters out stays out).
    const local = pc.localDescription;
    const answer = await api(`/api/v1/cameras/${seg(cameraId)}/webrtc`, {method: 'POST',
      body: {type: local.type, sdp: local.sdp}});
    if (pc.signalingState === 'closed') return pc;
    await pc.setRemoteDescription({type: answer.type, sdp: answer.sdp});
    return pc;
  } catch (err) {
    pc.close();
    throw err;
  }
}
