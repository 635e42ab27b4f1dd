// The invite page: remember the invite for this tab only, then enter the live room.
const config = JSON.parse(document.getElementById("palabre-config").textContent);

document.getElementById("enter").addEventListener("click", () => {
  // sessionStorage: the token stays in this tab and never goes into a URL the server logs.
  sessionStorage.setItem("palabre.token", config.token);
  window.location.assign("/live");
});
